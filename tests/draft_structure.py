"""The structure checks of write mode's formats, shared by the use-case and API tests."""

import re

from llm_twin.application.inference.writing import THREAD_POST_CHARS


def structure_problems(format_name: str, draft: str) -> list[str]:
    """What is missing from ``draft``'s format (empty: well formed)."""
    lines = [line for line in draft.splitlines() if line.strip()]
    problems = []
    if format_name == "article_section" and not re.match(r"^#{1,3} \S", lines[0]):
        problems.append("no Markdown heading first")
    if format_name == "thread":
        numbers = [re.match(r"^(\d+)/(\d+) ", line) for line in lines]
        if not all(numbers):
            problems.append("a post is not numbered n/N")
        elif [int(m.group(1)) for m in numbers] != list(range(1, len(lines) + 1)):
            problems.append("posts are not numbered in order")
        if any(len(line) > THREAD_POST_CHARS for line in lines):
            problems.append("a post is over 280 characters")
    if format_name == "newsletter" and not lines[0].startswith("Subject: "):
        problems.append("no subject line")
    if format_name == "linkedin_post" and len(re.findall(r"#\w+", lines[-1])) < 2:
        problems.append("no hashtag line")
    return problems
