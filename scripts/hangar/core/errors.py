"""The one error type the CLI turns into a clear message and a non-zero exit."""


class HangarError(Exception):
    """A failure the user can act on: `message` says what went wrong, `hint` what to do next."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message
