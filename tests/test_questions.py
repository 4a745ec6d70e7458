"""The questions strategy against a scripted model: what factx decides itself (who met,
the kind of a meeting, which questions are worth asking) whatever the model answers."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import httpx
import instructor
import openai
import pytest
from pydantic import BaseModel

from factx import Settings
from factx._client import LLM
from factx._extract import Extractor
from factx._questions import TradeAnswer, treaty_model
from factx._read import read_text_document
from factx._rules import kind as _kind
from factx._transport import SchemaFormatTransport

# Written for this test, about the call of 8 February 2024 and Wang Yi's visit of 2023.
TEXT = (
    "Xi Jinping und Wladimir Putin telefonierten am Donnerstag miteinander. "
    "Im Februar 2023 empfing Putin den chinesischen Außenminister Wang Yi in Moskau. "
    "Die Wirtschaft der Region wächst seit Jahren nur langsam. "
    "Viele Betriebe suchen neue Märkte. "
    "Die Häfen am Pazifik werden ausgebaut. "
    "Auch die Bahnstrecken sollen schneller werden. "
    "Ein Treffen der beiden Fachleute ist für den Herbst geplant."
)

# A careless model: it names the wrong people and puts every meeting in Moskau.
CARELESS = {
    "MeetingAnswer": {
        "is_meeting": True,
        "participants": ["Wladimir Putin", "Wang Yi"],
        "location": "Moskau",
        "status": "held",
    },
    "SpeakerAnswer": {"speaker": "unknown"},
    "TreatyAnswer": {"is_agreement": False},
    "TradeAnswer": {"is_trade_figure": False},
}


GATED = ("TreatyAnswer", "TradeAnswer")


def _completion(content: str) -> dict[str, object]:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip


def _extract(
    answers: dict[str, dict[str, object]] = CARELESS,
    text: str = TEXT,
    published: date = date(2024, 2, 9),
) -> tuple[object, Counter[str]]:
    asked: Counter[str] = Counter()

    def handler(r: httpx.Request) -> httpx.Response:
        body = json.loads(r.content)
        rf = body["response_format"]
        schema = rf.get("schema") or rf["json_schema"]["schema"]
        title = schema["title"]
        asked[title] += 1
        answer = answers[title]
        if title in GATED and "anyOf" not in schema:
            asked[f"{title} without gate"] += 1
            answer = answers.get(f"{title} without gate", answer)
        return httpx.Response(200, json=_completion(json.dumps(answer)))

    http = httpx.Client(transport=SchemaFormatTransport(httpx.MockTransport(handler)))
    client = openai.OpenAI(base_url="http://test/v1", api_key="k", max_retries=0, http_client=http)  # type: ignore[arg-type]
    settings = Settings(base_url="http://test/v1", model="m", strategy="questions")
    llm = LLM(
        instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA),
        settings,
        sleep=lambda _: None,
    )
    doc = read_text_document(text, doc_id="t", published=published)
    return Extractor(llm, settings).extract(doc).facts, asked


def test_a_sentence_naming_two_people_names_who_met() -> None:
    facts, _ = _extract()
    by_text = {m.evidence.split()[0]: m for m in facts.meetings}  # type: ignore[attr-defined]
    call = by_text["Xi"]
    assert set(call.participants) == {"Xi Jinping", "Wladimir Putin"}
    assert call.date == "2024-02-08"


def test_the_kind_comes_from_the_words_and_a_call_has_no_place() -> None:
    facts, _ = _extract()
    by_text = {m.evidence.split()[0]: m for m in facts.meetings}  # type: ignore[attr-defined]
    assert (by_text["Xi"].kind, by_text["Xi"].location) == ("phone", None)
    assert (by_text["Im"].kind, by_text["Im"].location) == ("in_person", "Moskau")


def test_a_meeting_the_words_settle_is_not_asked() -> None:
    facts, asked = _extract()
    # Three cue sentences: a call (no place), a visit "in Moskau" (its place in the words),
    # and the experts' meeting with nobody named near it (not even a few sentences back,
    # where "die beiden" looks): no question at all.
    assert asked["MeetingAnswer"] == 0
    assert len(facts.meetings) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "answer",
    [
        treaty_model(("Russland", "China")),
        TradeAnswer,
    ],
    ids=["treaty", "trade"],
)
def test_after_a_no_the_model_writes_nothing_more(answer: type[BaseModel]) -> None:
    gate: str = answer.gate  # type: ignore[attr-defined]
    plain = BaseModel.model_json_schema.__func__(answer)  # type: ignore[attr-defined]
    schema = answer.model_json_schema()
    yes, no = schema["anyOf"]
    assert schema["title"] == plain["title"] and schema["type"] == "object"
    # A "no" is the gate alone and parses into the answer's defaults.
    assert no["properties"] == {gate: {"type": "boolean", "const": False}}
    assert no["required"] == [gate] and no["additionalProperties"] is False
    assert getattr(answer.model_validate_json(json.dumps({gate: False})), gate) is False
    # A "yes" is the whole object, with what a small model must not skip still required.
    assert yes["properties"][gate]["const"] is True
    assert list(yes["properties"]) == list(plain["properties"])
    assert all(yes["properties"][k] == v for k, v in plain["properties"].items() if k != gate)
    assert yes["required"] == [gate, *answer.yes_requires]  # type: ignore[attr-defined]


# Written for this test: a meeting whose place only the sentence before names.
PLACE_BEFORE = "Wladimir Putin reiste am Montag nach Peking. Dort traf er Xi Jinping."


@pytest.mark.parametrize(("answered", "place"), [("Peking", "Peking"), ("none", None)])
def test_the_model_is_asked_only_for_a_place_the_sentence_leaves_open(
    answered: str, place: str | None
) -> None:
    answer = {"is_meeting": False, "participants": [], "location": answered, "status": "planned"}
    answers = {**CARELESS, "MeetingAnswer": answer}
    facts, asked = _extract(answers, text=PLACE_BEFORE, published=date(2024, 3, 5))
    assert asked["MeetingAnswer"] == 1
    (m,) = facts.meetings  # type: ignore[attr-defined]
    # A "no" and a "planned" change nothing the words settled.
    assert set(m.participants) == {"Wladimir Putin", "Xi Jinping"}
    assert (m.status, m.location) == ("held", place)


def test_llama_cpp_builds_a_grammar_with_both_branches() -> None:
    grammar = pytest.importorskip(
        "llama_cpp.llama_grammar", reason="llama.cpp is the `local` extra, not installed here"
    )
    # llama-cpp-python falls back to "any JSON" when a schema does not convert: it must.
    schema = treaty_model(("Russland", "China")).model_json_schema()
    gbnf = grammar.json_schema_to_gbnf(json.dumps(schema))
    grammar.LlamaGrammar.from_string(gbnf, verbose=False)
    assert 'alternative-1-is-agreement ::= "false"' in gbnf
    assert 'alternative-0-is-agreement ::= "true"' in gbnf


def test_meeting_kind_cues() -> None:
    assert _kind("Die beiden sprachen während eines einstündigen Telefongesprächs.") == "phone"
    assert _kind("Im März hielten Scholz und Modi ein virtuelles Treffen ab.") == "video"
    assert _kind("Putin empfing Wang im Kreml.") == "in_person"


def test_a_meeting_verb_between_two_named_people_outranks_a_no() -> None:
    no = {**CARELESS, "MeetingAnswer": {"is_meeting": False}}  # a "no" is the gate alone
    facts, _ = _extract(no)
    # "telefonierten" and "empfing" each between exactly two named people.
    assert sorted(m.kind for m in facts.meetings) == ["in_person", "phone"]  # type: ignore[attr-defined]


# Written for this test, about the summits Lavrov announced in April 2024 (Astana, Kazan).
SUMMITS = (
    "Der russische Außenminister Sergej Lawrow sprach am Dienstag in Peking. "
    "Wladimir Putin und Xi Jinping würden sich im Juli in Astana treffen und im Oktober "
    "bei einem Gipfel in Kasan, sagte Lawrow."
)


def test_who_reports_a_meeting_is_not_a_participant_and_each_date_is_a_meeting() -> None:
    no = {**CARELESS, "MeetingAnswer": {"is_meeting": False}}  # a "no" is the gate alone
    facts, _ = _extract(no, text=SUMMITS, published=date(2024, 4, 9))
    meetings = facts.meetings  # type: ignore[attr-defined]
    assert [(set(m.participants), m.date, m.status) for m in meetings] == [
        ({"Wladimir Putin", "Xi Jinping"}, "2024-07", "planned"),
        ({"Wladimir Putin", "Xi Jinping"}, "2024-10", "planned"),
    ]
    assert all(m.flags == () for m in meetings)


# Written for these tests, about Russia suspending New START on 21 February 2023.
START = (
    "Moskau hat seine Teilnahme am letzten Atomwaffenvertrag mit Washington ausgesetzt. "
    "Die Lage an der Grenze blieb ruhig. "
    "Am Dienstag setzte Putin die Teilnahme am Nuklearvertrag New START aus. "
    "Die Sprecherin des Weißen Hauses nannte den Schritt bedauerlich."
)


def test_a_treaty_named_beside_a_status_verb_outranks_a_no() -> None:
    facts, asked = _extract(text=START, published=date(2023, 2, 22))
    assert asked["TreatyAnswer"] == 2
    (t,) = facts.treaties  # type: ignore[attr-defined]
    assert (t.name, t.status, t.date) == ("Nuklearvertrag New START", "suspended", "2023-02-21")
    assert START[t.char_start : t.char_end].startswith("Am Dienstag setzte Putin")
    assert t.flags == ()


def test_the_telling_with_the_proper_name_stands_for_the_treaty() -> None:
    yes = {**CARELESS, "TreatyAnswer": {"is_agreement": True, "name": "Atomwaffenvertrag",
                                        "parties": [], "status": "signed"}}  # fmt: skip
    facts, _ = _extract(yes, text=START, published=date(2023, 2, 22))
    # Both sentences tell of one suspended nuclear treaty; the second gives its name.
    (t,) = facts.treaties  # type: ignore[attr-defined]
    assert t.status == "suspended" and "New START" in t.name


def test_without_a_status_verb_a_proper_name_is_left_to_the_model() -> None:
    text = "Der Nuklearvertrag New START begrenzt die Zahl der Sprengköpfe."
    facts, asked = _extract(text=text, published=date(2023, 2, 22))
    assert asked["TreatyAnswer"] == 1 and facts.treaties == ()  # type: ignore[attr-defined]


def _whole_requests(base_url: str, text: str) -> list[dict[str, object]]:
    sent: list[dict[str, object]] = []

    def handler(r: httpx.Request) -> httpx.Response:
        sent.append(json.loads(r.content))
        empty = {"meetings": [], "statements": [], "treaties": [], "trade_figures": []}
        return httpx.Response(200, json=_completion(json.dumps(empty)))

    http = httpx.Client(transport=SchemaFormatTransport(httpx.MockTransport(handler)))
    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0, http_client=http)  # type: ignore[arg-type]
    settings = Settings(
        base_url=base_url, model="m", strategy="whole", mode="json_schema", n_ctx=1024
    )
    llm = LLM(instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA), settings)
    doc = read_text_document(text, doc_id="t", published=date(2024, 2, 9))
    Extractor(llm, settings).extract(doc)
    return sent


def test_whole_strategy_fits_a_local_servers_context() -> None:
    text = " ".join(["Putin und Xi sprachen lange über den Handel."] * 220)  # ~10,000 chars
    local = _whole_requests("http://127.0.0.1:8080/v1", text)
    # 1,024 tokens of context: chunks of 1,536 chars, answers of at most 512 tokens.
    assert len(local) >= 7 and {r["max_tokens"] for r in local} == {512}
    hosted = _whole_requests("https://api.openai.com/v1", text)
    assert len(hosted) == 1 and hosted[0]["max_tokens"] == 4096


def test_one_named_in_the_sentence_and_one_before_it_met_whatever_the_model_says() -> None:
    text = (
        "Regierungschefin Gerda Pfisterer reiste nach Rom. "
        "Dort gab es Gespräche mit Ministerpräsident Malte Quandtberg über Häfen."
    )
    for said in (True, False):
        answer = {"is_meeting": said, "participants": [], "location": "none", "status": "held"}
        facts, _ = _extract({**CARELESS, "MeetingAnswer": answer}, text=text)
        assert [set(m.participants) for m in facts.meetings] == [  # type: ignore[attr-defined]
            {"Gerda Pfisterer", "Malte Quandtberg"}
        ]
    # With a third person in sight the words do not say who met: no meeting, no question.
    third = text.replace(
        "Regierungschefin Gerda Pfisterer reiste", "Gerda Pfisterer und Olaf Brandtner flogen"
    )
    facts, asked = _extract(text=third)
    assert facts.meetings == () and asked["MeetingAnswer"] == 0  # type: ignore[attr-defined]


def test_a_body_chosen_for_words_in_the_first_person_singular_is_no_speaker() -> None:
    text = (
        "Das Umweltministerium und die Ministerin Gerda Pfisterer stellten den Plan vor. "
        "„Ich halte den Plan für richtig und notwendig.“ "
        "„Wir halten den Plan für richtig und notwendig.“"
    )
    body = {**CARELESS, "SpeakerAnswer": {"speaker": "Umweltministerium"}}
    facts, asked = _extract(body, text=text)
    assert asked["SpeakerAnswer"] == 2
    # A ministry says "wir", never "ich".
    assert [(s.speaker, s.quote[:3]) for s in facts.statements] == [("Umweltministerium", "Wir")]


# Written for this test: two states outside the beat, in a capital outside the beat.
ELSEWHERE = (
    "Der französische Präsident Emmanuel Macron empfing am Montag den indischen "
    "Premierminister Narendra Modi in Paris. "
    "Deutschland und Frankreich unterzeichneten am Dienstag ein Abkommen über Wasserstoff."
)


def test_a_meeting_and_a_treaty_between_other_states_keep_their_place_and_parties() -> None:
    answers = {
        **CARELESS,
        "MeetingAnswer": {"is_meeting": True, "participants": ["Emmanuel Macron", "Narendra Modi"],
                          "location": "Paris", "status": "held"},
        "TreatyAnswer": {"is_agreement": True, "name": "Abkommen über Wasserstoff",
                         "parties": ["Deutschland", "Frankreich"], "status": "signed"},
    }  # fmt: skip
    facts, _ = _extract(answers, text=ELSEWHERE, published=date(2024, 3, 6))
    (m,) = facts.meetings  # type: ignore[attr-defined]
    assert (set(m.participants), m.location) == ({"Emmanuel Macron", "Narendra Modi"}, "Paris")
    (t,) = facts.treaties  # type: ignore[attr-defined]
    assert set(t.parties) == {"Deutschland", "Frankreich"}


def test_without_a_state_named_a_treaty_is_between_the_beats_two() -> None:
    from factx._rules import states_to_choose

    assert states_to_choose([]) == ["China", "Russland"]
    assert states_to_choose(["Japan"]) == ["Japan"]


@pytest.mark.parametrize(
    ("text", "parties"),
    [
        # The states the sentence names, by name or adjective.
        ("Japan und Südkorea unterzeichneten am Montag ein Abkommen über Fischerei.",
         {"Japan", "Südkorea"}),
        # None there: the two its window names.
        ("Die Premiers Polens und Litauens reisten nach Vilnius. "
         "Die beiden Regierungen unterzeichneten am Montag ein Abkommen über Stromnetze.",
         {"Polen", "Litauen"}),
        # More than two in the window are no pair.
        ("Vertreter Polens, Litauens und Lettlands kamen in Riga zusammen. "
         "Die Regierungen unterzeichneten am Montag ein Abkommen über Stromnetze.", set()),
    ],
)  # fmt: skip
def test_a_treaty_the_model_names_no_parties_for_gets_those_of_its_words(
    text: str, parties: set[str]
) -> None:
    answers = {**CARELESS, "TreatyAnswer": {"is_agreement": True, "name": "Abkommen",
                                            "parties": [], "status": "signed"}}  # fmt: skip
    facts, _ = _extract(answers, text=text, published=date(2024, 3, 6))
    (t,) = facts.treaties  # type: ignore[attr-defined]
    assert set(t.parties) == parties


def test_an_amount_the_words_call_trade_is_not_asked_about() -> None:
    text = (
        "Der Handel zwischen Norwegen und Polen erreichte 2023 einen Wert von 12 Milliarden "
        "Euro. Für neue Brücken gab die Regierung 3 Milliarden Euro aus."
    )
    # A model that says "no" to everything: the words decide the first figure alone.
    facts, asked = _extract(text=text)
    assert asked["TradeAnswer"] == 1  # only the bridges' amount, whose words name no flow
    assert [(f.value, f.metric) for f in facts.trade_figures] == [  # type: ignore[attr-defined]
        (12e9, "trade_volume")
    ]
