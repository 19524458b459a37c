"""The staff's sign-in form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired


class LoginForm(FlaskForm):
    """Username and password; `next` is where the user was going."""

    username = StringField(
        _l("아이디"), validators=[DataRequired(message=_l("아이디를 입력해 주세요."))]
    )
    password = PasswordField(
        _l("비밀번호"), validators=[DataRequired(message=_l("비밀번호를 입력해 주세요."))]
    )
    next = HiddenField()
