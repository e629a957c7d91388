"""Parse, lower and format stages of a model's `train { ... }` section (TRAINING.md): settings, defaults, E224."""

from __future__ import annotations

import pytest

from specc.fmt import format_text
from specc.pipeline import check_text


def model(head: str, *settings: str) -> str:
    """A small model ending in `head`, then a training section with `settings` (its `train {` is line 6)."""
    body = "".join(f"    {line}\n" for line in settings)
    return f"model m {{\n  input 8x8x3\n  flatten\n  {head}\n\n  train {{\n{body}  }}\n}}\n"


def training(text: str):
    checked = check_text(text)
    assert [d for d in checked.diagnostics if d.severity.name == "ERROR"] == []
    return checked.reports[0].model.training


def test_every_setting_is_lowered_as_written():
    lowered = training(
        model(
            "dense 10 softmax",
            "optimizer sgd learning_rate=0.05 momentum=0.9 nesterov=true",
            "schedule step step_size=5 gamma=0.5",
            "loss categorical_crossentropy",
            "metrics accuracy mae",
            "epochs 20",
            "batch_size 64",
            "validation_split 0.2",
            "early_stopping patience=5 monitor=val_accuracy restore_best_weights=false",
            'checkpoint path="best.keras"',
            "classes 10",
        )
    )
    assert (lowered.optimizer.name, lowered.optimizer.learning_rate) == ("sgd", 0.05)
    assert (lowered.optimizer.momentum, lowered.optimizer.nesterov) == (0.9, True)
    assert (lowered.schedule.name, lowered.schedule.step_size, lowered.schedule.gamma) == ("step", 5, 0.5)
    assert (lowered.loss, lowered.from_logits, lowered.metrics) == (
        "categorical_crossentropy",
        False,
        ("accuracy", "mae"),
    )
    assert (lowered.epochs, lowered.batch_size, lowered.validation_split, lowered.classes) == (20, 64, 0.2, 10)
    assert lowered.early_stopping.model_dump(exclude={"span"}) == {
        "monitor": "val_accuracy",
        "patience": 5,
        "restore_best_weights": False,
    }
    assert (lowered.checkpoint.monitor, lowered.checkpoint.path) == ("val_loss", "best.keras")
    assert lowered.setting_spans["epochs"].line == 11
    assert lowered.setting_spans["learning_rate"].line == 7


def test_an_empty_section_takes_keras_defaults_and_the_loss_the_output_asks_for():
    lowered = training(model("dense 10 softmax"))
    assert lowered.optimizer.model_dump(exclude={"span"}) == {
        "name": "adam",
        "learning_rate": 0.001,
        "momentum": 0.0,
        "nesterov": False,
        "weight_decay": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "rho": 0.9,
    }
    assert (lowered.schedule, lowered.early_stopping, lowered.checkpoint, lowered.classes) == (None, None, None, None)
    assert (lowered.loss, lowered.from_logits, lowered.metrics) == (
        "sparse_categorical_crossentropy",
        False,
        ("accuracy",),
    )
    assert (lowered.epochs, lowered.batch_size, lowered.validation_split) == (10, 32, 0.0)


@pytest.mark.parametrize(
    "head, loss, from_logits",
    [
        ("dense 10 softmax", "sparse_categorical_crossentropy", False),
        ("dense 1 sigmoid", "binary_crossentropy", False),
        ("dense 10", "sparse_categorical_crossentropy", True),
        ("dense 1", "mse", False),
    ],
)
def test_the_default_loss_follows_the_output(head, loss, from_logits):
    lowered = training(model(head))
    assert (lowered.loss, lowered.from_logits) == (loss, from_logits)


def test_a_softmax_activation_layer_after_the_dense_counts_as_a_softmax_output():
    lowered = training(model("dense 10\n  activation softmax"))
    assert (lowered.loss, lowered.from_logits) == ("sparse_categorical_crossentropy", False)


@pytest.mark.parametrize(
    "optimizer, learning_rate, weight_decay",
    [("adam", 0.001, None), ("adamw", 0.001, 0.004), ("sgd", 0.01, None), ("rmsprop", 0.001, None)],
)
def test_each_optimizer_takes_keras_3s_default_learning_rate(optimizer, learning_rate, weight_decay):
    lowered = training(model("dense 10 softmax", f"optimizer {optimizer}"))
    assert (lowered.optimizer.learning_rate, lowered.optimizer.weight_decay) == (learning_rate, weight_decay)


def test_a_learning_rate_may_follow_the_optimizer_without_its_key():
    assert training(model("dense 10 softmax", "optimizer rmsprop 0.0005 rho=0.8")).optimizer.learning_rate == 0.0005


def test_schedule_none_is_no_schedule():
    assert training(model("dense 10 softmax", "schedule none")).schedule is None


def test_a_model_without_a_section_has_no_training():
    assert check_text("model m {\n  input 4\n  dense 2 softmax\n}\n").reports[0].model.training is None


BAD = [
    ("optimzer adam", (7, 5), "did you mean `optimizer`?"),
    ("optimizer adma", (7, 15), "did you mean `adam`?"),
    ("optimizer adam momentum=0.9", (7, 20), None),
    ("optimizer sgd learning_rate=0", (7, 33), None),
    ("loss sparse_categorical_crossentropie", (7, 10), "did you mean `sparse_categorical_crossentropy`?"),
    ("schedule cosin", (7, 14), "did you mean `cosine`?"),
    ("schedule step alpha=0.1", (7, 19), None),
    ("metrics acuracy", (7, 13), "did you mean `accuracy`?"),
    ("epochs 0", (7, 12), None),
    ("epochs 2.5", (7, 12), None),
    ("batch_size -1", (7, 16), None),
    ("validation_split 1", (7, 22), None),
    ("early_stopping pateince=2", (7, 20), "did you mean `patience`?"),
    ("checkpoint monitor=val_los", (7, 24), "did you mean `val_loss`?"),
    ("classes 10 12", (7, 16), None),
]


@pytest.mark.parametrize("line, position, hint", BAD, ids=[case[0] for case in BAD])
def test_a_setting_that_does_not_fit_is_e224_where_it_is_written(line, position, hint):
    (diagnostic,) = check_text(model("dense 10 softmax", line)).diagnostics
    assert (diagnostic.code, (diagnostic.span.line, diagnostic.span.column)) == ("E224", position)
    if hint is not None:
        assert diagnostic.hint == hint


def test_a_setting_given_twice_is_e224_at_the_second():
    (diagnostic,) = check_text(model("dense 10 softmax", "epochs 3", "epochs 4")).diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("E224", 8)


def test_a_second_section_and_a_section_in_a_block_are_e224():
    text = (
        "block b {\n  conv 2 3x3\n  train { epochs 2 }\n}\n"
        "model m {\n  input 8x8x3\n  b\n  flatten\n  dense 2 softmax\n  train { epochs 3 }\n  train { epochs 4 }\n}\n"
    )
    assert [(d.code, d.span.line) for d in check_text(text).diagnostics] == [("E224", 3), ("E224", 11)]


def test_train_is_a_word_only_at_the_start_of_a_statement():
    text = "model m {\n  input 4\n  d = dense 2 name=train\n  output d\n}\n"
    assert check_text(text).diagnostics == []


FORMATTED = """model m {
  input 8x8x3
  flatten
  dense 10 softmax  # ten classes

  train {  # how it learns
    # Keras's defaults otherwise
    optimizer adam learning_rate=0.001  # the rate
    loss sparse_categorical_crossentropy

    epochs 20
    batch_size 64
    checkpoint path="best.keras"
  }
}
"""


def test_a_training_section_is_laid_out_one_setting_a_line_and_stays_so():
    messy = FORMATTED.replace("    epochs 20\n    batch_size 64\n", "    epochs   20 ; batch_size 64\n").replace(
        "learning_rate=0.001", "learning_rate = 0.001"
    )
    assert format_text(messy) == (FORMATTED, [])
    assert format_text(FORMATTED) == (FORMATTED, [])


def test_formatting_keeps_what_the_section_means():
    one_line = "model m { input 8x8x3; flatten; dense 2 softmax; train { epochs 3; loss binary_crossentropy } }\n"
    formatted, _ = format_text(one_line)
    assert "  train {\n    epochs 3\n    loss binary_crossentropy\n  }\n" in formatted
    before, after = check_text(one_line).reports[0].model.training, check_text(formatted).reports[0].model.training
    spans = {"span": True, "setting_spans": True, "optimizer": {"span"}}
    assert before.model_dump(exclude=spans) == after.model_dump(exclude=spans)


def test_a_learning_rate_too_large_to_be_finite_is_refused_at_the_argument():
    from specc.pipeline import check_text

    text = "model m {\n  input 8x8x1\n  flatten\n  dense 2 softmax\n  train {\n"
    checked = check_text(text + "    optimizer adam learning_rate=1e400\n  }\n}\n")
    assert [(d.code, d.span.line) for d in checked.diagnostics] == [("E224", 6)]
    assert "finite" in checked.diagnostics[0].message
