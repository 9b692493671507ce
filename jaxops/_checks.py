"""Argument checks shared by constructors: errors that name the argument."""


def positive_ints(**named: object) -> None:
    """Raise `ValueError` naming the first argument that is not a positive int."""
    for name, value in named.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
