"""The analyzer: token parts, task type, complexity, context dependency, subtasks, hints and odd inputs."""

from __future__ import annotations

import orjson
import pytest

from gateway.accounting.tokens import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, counter_for_encoding
from gateway.analysis import TASK_TYPES, Analysis, analyze


@pytest.fixture(scope="module")
def counter():
    return counter_for_encoding("o200k_base")


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def run(counter, *messages, tools=None, hint=None) -> Analysis:
    return analyze(list(messages), tools, counter, task_hint=hint)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
CONVERSATIONS = [
    [user("Hi")],
    [{"role": "system", "content": "You are terse."}, {"role": "developer", "content": "Answer in English."},
     user("What is a monad?"), assistant("A monoid in the category of endofunctors."), user("Explain simpler.")],
    [user("Weather in Paris?"),
     {"role": "assistant", "content": None,
      "tool_calls": [{"id": "c1", "type": "function",
                      "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
     {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'}],
    [user([{"type": "text", "text": "What is in this picture?"},
           {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}])],
    [{"role": "system", "content": "x" * 3000}, user("a"), assistant("b"), {"role": "user", "name": "bob",
                                                                             "content": "c"}],
]


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("tools", [None, TOOLS])
def test_token_parts_add_up_to_the_billed_prompt(counter, messages, tools):
    analysis = analyze(messages, tools, counter)
    tools_tokens = counter.count(orjson.dumps(tools).decode()) if tools else 0
    assert analysis.tokens.tools == tools_tokens
    assert analysis.tokens.total == counter.count_messages(messages) + tools_tokens


def test_token_parts_go_where_they_belong(counter):
    system = {"role": "system", "content": "You are a careful assistant."}
    developer = {"role": "developer", "content": "Prefer short answers."}
    history = [user("What is 2+2?"), assistant("4")]
    last = user("And 3+3?")
    tool_result = {"role": "tool", "tool_call_id": "t", "content": "6"}
    analysis = analyze([system, developer, *history, last, tool_result], None, counter)
    framed = lambda m: TOKENS_PER_MESSAGE + counter.count_message_body(m)  # noqa: E731
    assert analysis.tokens.system == framed(system) + framed(developer)
    assert analysis.tokens.history == sum(framed(m) for m in history)
    assert analysis.tokens.last_user == framed(last) + framed(tool_result) + REPLY_PRIMING_TOKENS
    assert analysis.tokens.tools == 0
    assert analysis.user_turns == 2
    assert analysis.last_user_text == "And 3+3?"


@pytest.mark.parametrize("text, expected", [
    ("Summarize the following article in three sentences: The city council met on Tuesday to discuss the budget.",
     "summarization"),
    ("Extract all the names, dates and amounts from this invoice text: Paid $300 to Ann Lee on 3 May.", "extraction"),
    ("Classify the sentiment of this review as positive, negative or neutral: 'The food was cold.'",
     "classification"),
    ("Translate 'where is the train station' into German.", "translation"),
    ("Rewrite this paragraph to sound more formal: hey guys, the meeting got moved to friday lol.", "rewriting"),
    ("Write a Python function that parses an ISO 8601 date string and returns a datetime.", "code_generation"),
    ("Solve for x: 3x + 7 = 22.", "math"),
    ("A farmer has 17 sheep and buys 5 more, then sells 8. How many sheep does he have now?", "math"),
    ("Here is a logic puzzle: three boxes are all labelled wrong, and you may draw one fruit. Deduce the labels.",
     "reasoning"),
    ("Write a short poem about autumn rain on a tin roof.", "creative_writing"),
    ("What is the capital of Australia?", "open_question"),
])
def test_task_type_on_clear_examples(counter, text, expected):
    analysis = run(counter, user(text))
    assert analysis.task_type == expected, analysis.signals
    assert any(signal.startswith(f"task: {expected}") for signal in analysis.signals)


@pytest.mark.parametrize("follow_up", ["and the second one?", "why?", "make it shorter", "yes", "continue"])
def test_short_continuations_are_follow_ups_with_high_dependency(counter, follow_up):
    history = [user("Give me three ideas for a birthday party."),
               assistant("1. A picnic. 2. A murder-mystery dinner. 3. Karaoke. Want more details on one?")]
    analysis = run(counter, *history, user(follow_up))
    assert analysis.task_type == "follow_up"
    assert analysis.context_dependency >= 0.6, analysis.signals
    assert analysis.subtasks == ()


@pytest.mark.parametrize("text", [
    "Rewrite your previous response so that every sentence starts with the letter A.",
    "Translate that into Spanish.",
    "Can you do the same for the third option?",
    "What's the area of the circle circumscribing the triangle?",
    "Does there exist an implementation with better time complexity?",
])
def test_turns_that_lean_on_the_conversation(counter, text):
    history = [user("The vertices of a triangle are at (0, 0), (-1, 1) and (3, 3). Give me three options to "
                    "compute its area and implement the first in Python."),
               assistant("Option one: the shoelace formula. Option two: base times height. Option three: Heron.")]
    analysis = run(counter, *history, user(text))
    assert analysis.context_dependency > 0.5, analysis.signals


def test_first_turn_never_depends_even_with_pronouns(counter):
    analysis = run(counter, {"role": "system", "content": "Be helpful."}, user("What is it like to live in Paris?"))
    assert analysis.context_dependency == 0.0
    assert "no earlier turns" in " ".join(analysis.signals)


@pytest.mark.parametrize("text", [
    "Write a haiku about the first snow in Kyoto.",
    "What is it like to live in Paris as a student with a small budget, and which districts are affordable?",
    "Explain how public-key cryptography lets two strangers agree on a secret over an open channel.",
])
def test_self_contained_turns_after_a_conversation_stay_low(counter, text):
    history = [user("Give me a recipe for banana bread."), assistant("Mash three bananas, mix with flour, bake.")]
    analysis = run(counter, *history, user(text))
    assert analysis.context_dependency < 0.5, analysis.signals
    assert analysis.task_type != "follow_up"


def test_short_reply_to_the_assistants_question(counter):
    history = [user("Help me pick a language for a CLI tool."),
               assistant("Happy to help. Do you prefer a compiled language or a scripting language?")]
    analysis = run(counter, *history, user("Compiled"))
    assert analysis.context_dependency > 0.8
    assert any("answers the assistant's question" in s or "dependency" in s for s in analysis.signals)


def test_numbered_independent_questions_split_into_standalone_subtasks(counter):
    text = ("Answer these questions briefly:\n1. What is the capital of Australia?\n2. Who wrote Dune?\n"
            "3. What does HTTP status 418 mean?")
    analysis = run(counter, user(text))
    assert analysis.has_subtasks and len(analysis.subtasks) == 3
    assert [s.index for s in analysis.subtasks] == [0, 1, 2]
    first, second, third = (s.text for s in analysis.subtasks)
    assert "Australia" in first and "Dune" not in first and first.startswith("Answer these questions briefly:")
    assert "Dune" in second and "418" not in second
    assert "418" in third and "Australia" not in third
    assert any("3 subtasks" in s for s in analysis.signals)


def test_questions_about_a_passage_carry_the_passage(counter):
    passage = ("The Faroe Islands are a self-governing region of Denmark with about 54,000 people. Their capital "
               "is Torshavn and the climate is subpolar oceanic, with mild winters and cool summers.")
    text = f"{passage}\n\nQuestions:\n1. What is the capital of the Faroe Islands?\n2. What is the climate like?"
    analysis = run(counter, user(text))
    assert len(analysis.subtasks) == 2
    assert all(passage in s.text for s in analysis.subtasks)


def test_for_each_template_composes_the_task_for_every_item(counter):
    analysis = run(counter, user("For each of Python, Rust and Go, write a hello world program."))
    assert [s.text for s in analysis.subtasks] == ["Write a hello world program for Python.",
                                                   "Write a hello world program for Rust.",
                                                   "Write a hello world program for Go."]


def test_extraction_of_separate_fields(counter):
    text = "Extract the company name, the CEO and the founding year from the following text: Acme was founded..."
    analysis = run(counter, user(text))
    assert len(analysis.subtasks) == 3
    assert analysis.subtasks[1].text.startswith("Extract the CEO from the following text: Acme")


def test_per_item_instruction_over_a_list_of_sentences(counter):
    text = ("Classify the sentiment of each of the following sentences:\n- I loved every minute.\n"
            "- The battery died after an hour.\n- It arrived on time.")
    analysis = run(counter, user(text))
    assert len(analysis.subtasks) == 3
    assert analysis.subtasks[1].text.endswith("The battery died after an hour.")


@pytest.mark.parametrize("text", [
    "How to deploy the app:\n1. Install Docker\n2. Build the image\n3. Run the container",
    "Summarize these notes:\n- meeting moved to 3pm\n- budget approved\n- we hire two engineers",
    "1. Compute the mean of 3, 5 and 10.\n2. Then use the result to compute the variance.",
    "Write a Python script that:\n- reads a CSV file\n- removes empty rows\n- writes the result as JSON",
    "What is superposition? How does it relate to entanglement?",
    "Explain quantum computing in simple terms.",
])
def test_no_subtasks_for_procedures_data_lists_and_dependent_items(counter, text):
    assert run(counter, user(text)).subtasks == ()


def test_separate_questions_in_a_row(counter):
    analysis = run(counter, user("What is the boiling point of water at sea level? Who painted the Mona Lisa?"))
    assert [s.text for s in analysis.subtasks] == ["What is the boiling point of water at sea level?",
                                                   "Who painted the Mona Lisa?"]


def test_no_subtasks_when_the_list_needs_the_conversation(counter):
    history = [user("Write a short story about a dragon."), assistant("Once upon a time, a dragon named Ember...")]
    text = "About your previous story:\n1. What is the dragon's name?\n2. Where does it live?"
    analysis = run(counter, *history, user(text))
    assert analysis.subtasks == ()
    assert analysis.context_dependency >= 0.6


def test_escaped_newlines_are_read_as_line_breaks(counter):
    text = "Answer these:\\n1. What is the capital of Peru?\\n2. What is the capital of Chile?"
    analysis = run(counter, user(text))
    assert [s.text.rsplit("\n", 1)[-1] for s in analysis.subtasks] == ["What is the capital of Peru?",
                                                                       "What is the capital of Chile?"]


def test_valid_task_hint_wins_with_high_confidence(counter):
    analysis = run(counter, user("Write a poem about the sea."), hint="Summarization")
    assert analysis.task_type == "summarization"
    assert analysis.confidence >= 0.9
    assert any("client hint" in s for s in analysis.signals)


def test_unknown_task_hint_is_ignored_and_said(counter):
    analysis = run(counter, user("Write a poem about the sea."), hint="poetry")
    assert analysis.task_type == "creative_writing"
    assert any("ignored unknown task hint" in s for s in analysis.signals)


@pytest.mark.parametrize("text, low, high", [
    ("hi there", 1, 1),
    ("What is the capital of France?", 1, 1),
    ("Prove that there are infinitely many primes, rigorously, and then generalize the argument to primes of "
     "the form 4k+3. Make sure every step is justified.", 4, 5),
    ("Design a scalable, fault-tolerant distributed system for real-time chat with 50M users. You must cover "
     "sharding, consensus, caching and failure handling, and justify each trade-off in detail.", 4, 5),
])
def test_complexity_levels(counter, text, low, high):
    assert low <= run(counter, user(text)).complexity <= high


def test_empty_and_odd_inputs(counter):
    empty = analyze([], None, counter)
    assert empty.tokens.total == counter.count_messages([]) and empty.user_turns == 0
    assert empty.task_type in TASK_TYPES and empty.subtasks == ()

    none_content = run(counter, {"role": "user", "content": None})
    assert none_content.last_user_text == "" and none_content.context_dependency == 0.0

    parts = run(counter, user([{"type": "text", "text": "Translate 'hello'"}, {"type": "image_url", "image_url":
                                                                                 {"url": "http://x/y.png"}},
                               {"type": "text", "text": "into French."}]))
    assert parts.last_user_text == "Translate 'hello'\ninto French." and parts.task_type == "translation"


def test_without_a_user_message_the_last_message_is_the_turn(counter):
    messages = [{"role": "system", "content": "You are an agent."},
                {"role": "assistant", "content": "Calling the search tool.",
                 "tool_calls": [{"id": "1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "1", "content": "Summarize the search results: three hits."}]
    analysis = analyze(messages, None, counter)
    assert analysis.last_user_text == "Summarize the search results: three hits."
    assert analysis.user_turns == 0
    assert analysis.tokens.last_user == TOKENS_PER_MESSAGE + counter.count_message_body(messages[-1]) + \
        REPLY_PRIMING_TOKENS
    assert analysis.tokens.total == counter.count_messages(messages)


def test_signals_explain_every_decision(counter):
    analysis = run(counter, user("Write a Python function that reverses a string."))
    kinds = [signal.split(" ", 1)[0] for signal in analysis.signals]
    assert {"task:", "complexity", "dependency", "tokens:"} <= set(kinds)
    assert 0.0 <= analysis.confidence <= 1.0
