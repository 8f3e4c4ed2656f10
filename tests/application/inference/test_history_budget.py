"""Issue 18, finding 7: a long chat history is trimmed to a budget that keeps the system
prompt (and the newest turns)."""


def test_recent_turns_keep_the_newest_within_budget():
    from llm_twin.application.inference.service import recent_turns

    history = [{"role": "user", "content": f"turn {n} " + "x" * 100} for n in range(50)]
    kept = recent_turns(history, 1000)
    assert sum(len(turn["content"]) for turn in kept) <= 1000
    assert kept[-1] is history[-1] and kept == history[-len(kept) :]
    assert recent_turns(history, 0) == []
