"""The signed-in user, read once a request together with the yes-or-no questions every page
asks about them (has a second factor; whatever other apps add).

Each question is asked afresh on every request, as before: it is only carried by the read of
the user that every request makes anyway, so a page costs one round trip to the database for
all of them instead of one each: fewer queries for the one database every app server
shares.

Apps add their question when they are ready (`signed_in_question_add`); the answer is then on
the user as `signed_in_answer(user, name)`, or None when the user was read another way (a
test's own read, another backend), and the asker then runs its query itself. A question is a
subquery of the user's read: its values are parameters (no literal `%`), and it names the
user by its parameter, never by the user table, which is the outer query's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from sql_names import column, table

# The user's primary key -> a boolean SQL expression and its parameters.
type Question = Callable[[object], tuple[str, list[object]]]

_ANSWERS = "signed_in_answers"
_questions: dict[str, Question] = {}


def signed_in_question_add(name: str, question: Question) -> None:
    """Ask `question` with every read of the signed-in user, from now on."""
    if not name.isidentifier():
        raise ValueError(f"A question's name must be an identifier, not {name!r}.")
    _questions[name] = question


def signed_in_user_read(user_id: object) -> AbstractBaseUser | None:
    """The user with this primary key, or None, with the answer to every question."""
    names = tuple(_questions)
    sql, params = [], []
    for name in names:
        expression, values = _questions[name](user_id)
        sql.append(expression)
        params.extend(values)
    found = list(
        get_user_model()._default_manager.raw(_user_sql(names, tuple(sql)), [*params, user_id])
    )
    if not found:
        return None
    (user,) = found
    setattr(
        user,
        _ANSWERS,
        {name: bool(user.__dict__.pop(_alias(name))) for name in names},
    )
    return user


def signed_in_answer(user: AbstractBaseUser | AnonymousUser, name: str) -> bool | None:
    """The answer read with the user, or None when it was not asked."""
    answers: dict[str, bool] = getattr(user, _ANSWERS, {})
    return answers.get(name)


def _alias(name: str) -> str:
    return f"signed_in_{name}"


@cache
def _user_sql(names: tuple[str, ...], expressions: tuple[str, ...]) -> str:
    user = get_user_model()
    asked = "".join(
        f", ({expression}) AS {connection.ops.quote_name(_alias(name))}"
        for name, expression in zip(names, expressions, strict=True)
    )
    return (
        f"SELECT {table(user)}.*{asked} FROM {table(user)} "  # noqa: S608
        f"WHERE {column(user, user._meta.pk.name)} = %s"
    )
