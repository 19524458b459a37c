"""The judge's score form, built for each round: a verdict or one score per criterion, a comment.

These are plain `wtforms.Form`s, not FlaskForms: CSRFProtect already checks every POST
app-wide, the form's hidden csrf_token and the X-CSRFToken header of JSON posts alike, so a
second check here would only refuse JSON posts, which carry no token field.

The page (keyboard shortcuts included) posts a form; a script may post JSON instead.
`formdata_from_json` turns a JSON body into the MultiDict a form post gives, so both are
validated by the same fields, with the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import Field, Form, IntegerField, TextAreaField
from wtforms.validators import StopValidation

from contest.models import Round
from contest.services.judging import COMMENT_MAX
from contest.services.rounds import SCORE_MAX, SCORE_MIN

VERDICTS = {"y": True, "n": False}
# ASCII digits only, at most three, blanks around allowed: "7.5", "1e1", "abc", "+7" or "1_0"
# are refused, never rounded or read generously: an ambiguous score is asked for again.
_WHOLE_NUMBER = re.compile(r"\s*[0-9]{1,3}\s*")


class ScoreForm(Form):
    """The base of every round's score form (see `score_form`); validate, then read `values`."""

    def values(self) -> dict[str, int | bool]:
        """The clean values for `judging.save_score`: criterion slug → int, or verdict → bool."""
        return {field.name: field.data for field in self._answers()}

    def field_errors(self) -> dict[str, list[str]]:
        """The messages by posted name (criterion slug, verdict, comment), as the page wants."""
        # By the field's posted name, not its attribute name (see `score_form`).
        return {field.name: list(field.errors) for field in self if field.errors}

    def _answers(self) -> Iterator[Field]:
        """The verdict or the criteria's fields, without the comment."""
        return (field for field in self if not isinstance(field, CommentField))


class CriterionField(IntegerField):
    """A whole-number score from SCORE_MIN to SCORE_MAX for one criterion, named by its slug."""

    def __init__(self, *args, criterion: str, **kwargs) -> None:
        """`criterion` is the criterion's stored name, translated when a message is made."""
        super().__init__(*args, **kwargs)
        self.criterion = criterion
        self.answered = False

    def process_formdata(self, valuelist: list) -> None:
        """Keep what was posted; `data` is its integer when it is a whole number, else None."""
        raw = valuelist[0] if valuelist else None
        # A JSON true is not a score (and would otherwise pass as int 1): taken as no answer,
        # as any blank. Anything else that is not digits is a wrong answer.
        self.answered = not (raw is None or isinstance(raw, bool) or str(raw).strip() == "")
        matches = isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw)
        self.data = int(raw) if matches else None

    def pre_validate(self, form: Form) -> None:
        """One message: choose a score, or a score must be a whole number in range."""
        name = _(self.criterion)
        if not self.answered:
            raise StopValidation(_("%(criterion)s 점수를 선택해 주세요.", criterion=name))
        if self.data is None or not SCORE_MIN <= self.data <= SCORE_MAX:
            raise StopValidation(
                _(
                    "%(criterion)s 점수는 %(min)s부터 %(max)s까지의 정수여야 합니다.",
                    criterion=name,
                    min=SCORE_MIN,
                    max=SCORE_MAX,
                )
            )


class VerdictField(Field):
    """A screening verdict: y or n (any case, blanks around) → True or False."""

    def process_formdata(self, valuelist: list) -> None:
        """`data` is True or False for y or n, else None."""
        raw = valuelist[0] if valuelist else None
        self.data = VERDICTS.get(raw.strip().lower()) if isinstance(raw, str) else None

    def pre_validate(self, form: Form) -> None:
        """Refuse anything but y or n."""
        if self.data is None:
            raise StopValidation(_("통과(Y) 또는 탈락(N)을 선택해 주세요."))


class CommentField(TextAreaField):
    """The optional comment, stripped, at most COMMENT_MAX characters."""

    def process_formdata(self, valuelist: list) -> None:
        """`data` is the stripped text; anything posted that is not text is kept to be refused."""
        raw = (valuelist[0] if valuelist else None) or ""
        self.data = raw.strip() if isinstance(raw, str) else raw

    def pre_validate(self, form: Form) -> None:
        """Refuse a comment that is not text or is too long."""
        if not isinstance(self.data, str):
            raise StopValidation(_("심사평은 글로 입력해 주세요."))
        if len(self.data) > COMMENT_MAX:
            raise StopValidation(_("심사평은 %(max)s자 이하로 입력해 주세요.", max=COMMENT_MAX))


def score_form(round_: Round) -> type[ScoreForm]:
    """A form class for this round: `verdict` when screening, else one field per criterion.

    Criteria come in position order, each field posted under its slug. The attributes are
    criterion_0, criterion_1, ... rather than the slugs: an admin may name a criterion
    `data`, `errors` or `validate`, which would shadow the form's own attributes.
    """
    fields: dict[str, Field] = {}
    if round_.method == "screening":
        fields["verdict"] = VerdictField()
    else:
        for i, criterion in enumerate(round_.criteria):  # the relationship orders by position
            fields[f"criterion_{i}"] = CriterionField(name=criterion.slug, criterion=criterion.name)
    # Made last, so it comes after the scores, as on the page.
    fields["comment"] = CommentField()
    return type("RoundScoreForm", (ScoreForm,), fields)


def formdata_from_json(body: object) -> MultiDict:
    """A JSON body as the MultiDict a form post gives, for the same fields to validate.

    Numbers become their text ("7", "7.5": the field refuses the latter rather than rounding
    it). Booleans are kept as they are, never turned into 1 or "True": no field takes them.
    A null is as if the name were not sent. Anything else that is not text (a list, an
    object) is kept whole, as one value, for its field to refuse.
    """
    if not isinstance(body, dict):
        return MultiDict()
    pairs = []
    for name, value in body.items():
        if value is None:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = repr(value)
        pairs.append((name, value))
    # From pairs, not the dict: MultiDict would spread a list value into several values.
    return MultiDict(pairs)
