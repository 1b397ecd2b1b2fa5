"""Which operations of a revision are unsafe while the previous release serves or PostgreSQL is under load."""


def register() -> None:
    """`flask db check-safety`, next to Flask-Migrate's own commands."""
    from .command import register

    register()
