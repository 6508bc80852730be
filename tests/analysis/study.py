"""A synthetic 15-interview study that saturates like seed 000 ("from the eleventh interview onwards").

Interview *n* brings ``NEW_CODES[n - 1]`` codes never mentioned before and repeats some earlier ones; one
answer paragraph per code. Interview 14 is in Persian and repeats three codes. With the default rule (3
consecutive interviews without a new code) the hand-coded curve saturates at interview 11.

``python -m tests.analysis.study docs/saturation.png`` builds it in a temporary folder, imports it through
the real pipeline (offline suggestions), codes every answer by hand through the HTTP API, and writes the
saturation plot of ``groundcode saturation``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from groundcode.cli import app as cli
from groundcode.domain import Role
from groundcode.server import create_app
from groundcode.settings import Settings
from tests.live_server import api_token, poll_until, serve_in_thread

NEW_CODES = [6, 4, 3, 2, 2, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0]
SATURATION = 11
PERSIAN_INTERVIEW = 14

CODES: list[tuple[str, str, tuple[str, str]]] = [
    (
        "Budget constraints",
        "Lack of money for digital projects.",
        (
            "The budget for the project was cut again this year.",
            "We never have enough money to maintain the new systems.",
        ),
    ),
    (
        "Legal barriers",
        "Laws or legal uncertainty that block digital cooperation.",
        (
            "The law does not allow us to share the registry data.",
            "Lawyers blocked the exchange because the legal basis is unclear.",
        ),
    ),
    (
        "Citizen trust",
        "Confidence of citizens in online public services.",
        (
            "Citizens do not trust the online portal after the leak.",
            "People prefer to come in person because they doubt the website.",
        ),
    ),
    (
        "Digital skills",
        "Whether staff can use digital tools.",
        (
            "Many employees cannot use the new software without help.",
            "Our staff lack basic computer skills.",
        ),
    ),
    (
        "Leadership support",
        "Commitment of senior managers and politicians.",
        (
            "The mayor personally pushed the smart city programme.",
            "Without a committed director nothing moves forward here.",
        ),
    ),
    (
        "Inter-agency data sharing",
        "How data moves, or fails to move, between agencies.",
        (
            "Departments still send each other paper letters instead of data.",
            "Each agency keeps its own database and refuses to share it.",
        ),
    ),
    (
        "Infrastructure",
        "Networks, servers and hardware.",
        (
            "The network in the district offices is slow and often down.",
            "Our servers are more than ten years old.",
        ),
    ),
    (
        "Cyber security",
        "Attacks on public systems and their defence.",
        (
            "We had a ransomware attack on the municipal servers.",
            "Hackers tried to break into the tax system twice last year.",
        ),
    ),
    (
        "Resistance to change",
        "Staff or managers opposing new ways of working.",
        (
            "Older managers resist every new procedure.",
            "People are afraid that automation will take their jobs.",
        ),
    ),
    (
        "Vendor dependence",
        "Being locked in to one supplier.",
        (
            "We depend on one company that owns the source code.",
            "Switching suppliers is impossible because of the old contract.",
        ),
    ),
    (
        "Citizen participation",
        "Citizens taking part in decisions through digital channels.",
        (
            "Residents can now vote on local projects through the app.",
            "We invite citizens to comment on plans online.",
        ),
    ),
    (
        "Transparency",
        "Making public spending and decisions visible.",
        (
            "All contracts are now published for everyone to read.",
            "Journalists can see how the budget is spent.",
        ),
    ),
    (
        "Interoperability standards",
        "Common formats and standards between systems.",
        (
            "The systems use different data formats and cannot talk to each other.",
            "There is no common standard for exchanging records.",
        ),
    ),
    (
        "Performance measurement",
        "Indicators of how well services work.",
        (
            "We measure how fast permits are issued each month.",
            "Every department reports indicators to the city council.",
        ),
    ),
    (
        "Corruption reduction",
        "Less room for bribes and favouritism.",
        (
            "Online permits removed the need for bribes at the counter.",
            "Automation leaves less room for favouritism.",
        ),
    ),
    (
        "Private sector partnership",
        "Companies building or financing public services.",
        (
            "A local startup built the parking app with us.",
            "Banks co-finance the payment platform.",
        ),
    ),
    (
        "Privacy",
        "Protection of personal data and fear of surveillance.",
        (
            "Residents worry about who reads their personal data.",
            "The cameras raised questions about surveillance of citizens.",
        ),
    ),
    (
        "Training programmes",
        "Courses that teach staff the new systems.",
        (
            "The city runs evening courses on the new systems for staff.",
            "New employees get a week of digital training.",
        ),
    ),
    (
        "Strategic planning",
        "Long-term plans and roadmaps for digital government.",
        (
            "The digital roadmap sets goals until 2030.",
            "We wrote a five-year plan for smart services.",
        ),
    ),
    (
        "Rural digital divide",
        "Villages and elderly people left behind.",
        (
            "Villages outside the city have no fast internet.",
            "Elderly people in rural areas cannot use online services.",
        ),
    ),
    (
        "Open data",
        "Publishing public data for anyone to reuse.",
        (
            "We publish traffic data for developers.",
            "Researchers download city statistics from the portal.",
        ),
    ),
]
PERSIAN: list[tuple[str, str]] = [
    ("Budget constraints", "بودجه پروژه‌های دیجیتال هر سال کم می‌شود."),
    ("Citizen trust", "مردم به سامانه جدید اعتماد ندارند."),
    ("Legal barriers", "قانون اجازه اشتراک داده‌های ثبت را نمی‌دهد."),
]
assert sum(NEW_CODES) == len(CODES)


def interviews() -> list[list[tuple[str, str]]]:
    """Each interview's answers as ``(code name, text)``, in interview order."""
    used: dict[str, int] = {}
    result = []
    introduced = 0
    for number, new in enumerate(NEW_CODES, start=1):
        if number == PERSIAN_INTERVIEW:
            result.append(PERSIAN)
            continue
        earlier = sorted({(number * 7) % introduced, (number * 11 + 3) % introduced}) if introduced else []
        chosen = earlier + list(range(introduced, introduced + new))
        introduced += new
        answers = []
        for index in chosen:
            name, _, variants = CODES[index]
            answers.append((name, variants[used.get(name, 0) % len(variants)]))
            used[name] = used.get(name, 0) + 1
        result.append(answers)
    return result


def write_study(folder: Path) -> tuple[list[Path], Path]:
    """The interviews (``interview_01.txt`` ...) and the codebook, written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number, answers in enumerate(interviews(), start=1):
        speaker = "مصاحبه‌شونده" if number == PERSIAN_INTERVIEW else f"P{number}"
        path = folder / f"interview_{number:02d}.txt"
        path.write_text("\n\n".join(f"{speaker}: {text}" for _, text in answers) + "\n", encoding="utf-8")
        files.append(path)
    codebook = folder / "codebook.yaml"
    codebook.write_text(
        "".join(f"- name: {name}\n  definition: {definition}\n" for name, definition, _ in CODES),
        encoding="utf-8",
    )
    return files, codebook


def import_study(folder: Path, data: Path) -> None:
    """Import the study as project "study" (one segment per answer, offline suggestions, both modes)."""
    files, codebook = write_study(folder)
    env = {"GROUNDCODE_DATA_DIR": str(data), "GROUNDCODE_SUGGESTION_MODE": "both"}
    arguments = [
        "import",
        *map(str, files),
        "-p",
        "study",
        "--codebook",
        str(codebook),
        "--unit",
        "paragraph",
    ]
    result = CliRunner().invoke(cli, arguments, env=env)
    assert result.exit_code == 0, result.output


def code_by_hand(client: httpx.Client, *, only: set[str] | None = None) -> int:
    """Code every answer (of the ``only`` sources, if given) with its code through the API; the number of
    codings made."""
    code_of = {text: name for answers in interviews() for name, text in answers}
    ids = {row["name"]: row["code_id"] for row in _json(client, "/projects/study/codebook/counts")}
    made = 0
    for source in _json(client, "/projects/study/sources"):
        if only is not None and source["name"] not in only:
            continue
        for segment in _json(client, f"/projects/study/sources/{source['id']}/segments"):
            name = code_of[segment["text"]]
            body = {
                "action": "code",
                "segment_id": segment["id"],
                "code_id": ids[name],
                "start": segment["start"],
                "end": segment["end"],
                "version": 0,
            }
            response = client.post("/projects/study/decisions", json=body)
            assert response.status_code == 200, response.text
            made += 1
    poll_until(
        lambda: _json(client, "/work-items")["counts"].get("learn", {}),
        lambda counts: (
            counts.get("done", 0) >= made and not counts.get("pending") and not counts.get("running")
        ),
        "the learn stage did not finish",
    )
    return made


def _json(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def coded_study(folder: Path) -> Path:
    """Import the study into ``folder / "data"`` and code it by hand: a coder codes every interview, the
    owner the first one again. Returns the data folder."""
    data = folder / "data"
    import_study(folder / "files", data)
    settings = Settings(data_dir=data)
    # Both follow the learn stage on /work-items, so both are instance administrators.
    coder = api_token(settings, "cyrus", projects=["study"], role=Role.CODER, admin=True)
    owner = api_token(settings, "olga", projects=["study"], role=Role.OWNER, admin=True)
    with serve_in_thread(create_app(settings)) as base_url:
        with httpx.Client(base_url=base_url, timeout=60, headers=coder) as client:
            code_by_hand(client)
        with httpx.Client(base_url=base_url, timeout=60, headers=owner) as client:
            code_by_hand(client, only={"interview_01.txt"})
    return data


def main(target: Path) -> None:
    """Build and code the study in a temporary folder, and save its saturation plot to ``target``."""
    with tempfile.TemporaryDirectory(prefix="groundcode-study-") as work:
        data = coded_study(Path(work))
        env = {"GROUNDCODE_DATA_DIR": str(data)}
        result = CliRunner().invoke(cli, ["saturation", "-p", "study", "--out", work], env=env)
        print(result.output)
        assert result.exit_code == 0, result.output
        shutil.copyfile(Path(work) / "study-saturation.png", target)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
