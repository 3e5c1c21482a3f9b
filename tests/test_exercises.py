"""The implement-it-yourself exercises: a correct answer passes, and typical wrong answers are refused
with a message that names what is wrong."""

import dataclasses

import numpy as np
import pytest
import torch

from fbcd_lab.exercises import EXERCISES


def test_there_are_at_least_six_exercises_each_with_check_hint_and_solution(capsys):
    assert len(EXERCISES) >= 6
    for name, exercise in EXERCISES.items():
        exercise.hint()
        exercise.solution()
        shown = capsys.readouterr().out
        assert shown.startswith(f"{name}: ") and "def " in shown and "return" in shown


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_solution_passes_and_every_known_mistake_is_named(name):
    exercise = EXERCISES[name]
    result = exercise.check(exercise.answer)
    assert result and repr(result).startswith(f"✓ {name}: right on all ")
    assert exercise.mistakes, "every exercise knows at least one typical wrong answer"
    for mistake, said in exercise.mistakes:
        refused = exercise.check(mistake)
        assert not refused and repr(refused).startswith(f"✗ {name}: on ") and repr(refused).endswith(said)


def test_show_pass_displays_the_check_of_the_plain_answer_and_refuses_a_broken_exercise():
    u_c = EXERCISES["clusters_per_class"]
    assert repr(u_c.show_pass()) == "✓ clusters_per_class: right on all 6 inputs, edge cases included"
    broken = dataclasses.replace(u_c, answer=lambda counts, u: [1] * len(counts))
    with pytest.raises(AssertionError, match="exercise 'clusters_per_class' refuses its own answer: "
                                             "✗ clusters_per_class: on CIFAR-10-LT's counts"):
        broken.show_pass()


def test_the_messages_of_the_usual_slips():
    u_c = EXERCISES["clusters_per_class"]
    assert repr(u_c.check(lambda counts, u: [1] * len(counts))) == (
        "✗ clusters_per_class: on CIFAR-10-LT's counts (ratio 100) with u = 10: got 1 at index 0, expected 10")
    assert repr(u_c.check(lambda counts, u: [1, 2])) == (
        "✗ clusters_per_class: on CIFAR-10-LT's counts (ratio 100) with u = 10: the result has shape (2,), "
        "expected (10,)")

    def unwritten(counts, u):
        raise NotImplementedError

    assert repr(u_c.check(unwritten)) == ("✗ clusters_per_class: not written yet (it raised NotImplementedError); "
                                          "ex.hint() helps you start")
    assert "your function returned None (a missing return?)" in repr(u_c.check(lambda counts, u: None))
    assert repr(u_c.check(lambda counts, u: counts[3])).endswith("the result has shape (), expected (10,)")
    crashed = EXERCISES["fbh_forward"].check(lambda f, w, b: torch.nn.functional.conv2d(f, w, b).mean((2, 3)))
    assert repr(crashed).startswith("✗ fbh_forward: on 2 images, 3 classes of 2 channels, 3x3 kernels, 5x5 maps: "
                                    "your function raised RuntimeError: ")
    soft = EXERCISES["soft_labels"]
    assert repr(soft.check(lambda cls, alpha: np.eye(len(cls)))) == (
        "✗ soft_labels: on clusters of classes [0, 0, 0, 1, 1, 2] with alpha 0.5: got 1 at index (0, 0), "
        "expected 0.5")


def test_a_function_that_writes_into_its_inputs_changes_no_later_case():
    def clobbering(counts, u):
        answer = EXERCISES["clusters_per_class"].answer(counts, u)
        counts.clear()
        return answer

    assert EXERCISES["clusters_per_class"].check(clobbering)

    def zeroing(z, cls):
        answer = cls[z.argmax(dim=1)]
        z.zero_()
        return answer

    assert EXERCISES["top_cluster"].check(zeroing)
