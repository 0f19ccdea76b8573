"""The README stays in step with the code: topics, settings, make targets, commands."""
import re
from pathlib import Path

from cli.main import _load_commands, cli
from infra.settings import settings_table
from schemas.topics import TOPICS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_topic_and_setting_is_documented():
    missing = [t for t in TOPICS if f"`{t}`" not in README]
    missing += [env for env, _, _ in settings_table() if f"`{env}`" not in README]
    assert not missing, missing


def test_make_targets_and_commands_named_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    for target in set(re.findall(r"`make ([\w-]+)`", README)) | set(re.findall(r"^\s+make ([\w-]+)", README, re.M)):
        assert target in targets, target
    _load_commands()
    for command in set(re.findall(r"`backoffice ([a-z][\w-]*)", README)):
        assert command in cli.commands or command == "COMMAND", command
