"""Forms (Flask-WTF): CSRF on every POST, and messages a person understands."""

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from .models import CONTENT_MAX, EMAIL_MAX, NAME_MAX, TITLE_MAX

PASSWORD_MIN = 8
PASSWORD_MAX = 256  # hashing is deliberately slow; no megabyte passwords


def strip(value):
    return value.strip() if isinstance(value, str) else value


def printable(allow_newlines: bool = False):
    """Refuse control characters (NUL and the like): no use in text, and PostgreSQL rejects NUL outright."""
    pattern = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]" if allow_newlines else r"[\x00-\x1f\x7f]")

    def check(form, field):
        if field.data and pattern.search(field.data):
            raise ValidationError("Please remove the invisible control characters.")

    return check


class RegisterForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[
        DataRequired("Please enter your name."), printable(),
        Length(max=NAME_MAX, message=f"At most {NAME_MAX} characters.")])
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired("Please enter your email address."), printable(), Length(max=EMAIL_MAX),
        Email("That does not look like an email address.")])
    password = PasswordField("Password", validators=[
        DataRequired("Please choose a password."),
        Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
               message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters.")])
    confirm = PasswordField("Repeat password", validators=[
        DataRequired("Please repeat the password."), EqualTo("password", "The two passwords differ.")])


class LoginForm(FlaskForm):
    # No account has a longer address; the limit also bounds what the login throttle stores.
    email = EmailField("Email", filters=[strip], validators=[
        DataRequired("Please enter your email address."), printable(),
        Length(max=EMAIL_MAX, message="No account has an email address that long.")])
    password = PasswordField("Password", validators=[DataRequired("Please enter your password.")])
    remember = BooleanField("Remember me")


class PostForm(FlaskForm):
    title = StringField("Title", filters=[strip], validators=[
        DataRequired("A post needs a title."), printable(),
        Length(max=TITLE_MAX, message=f"Keep the title to {TITLE_MAX} characters or fewer.")])
    content = TextAreaField("Content", filters=[strip], validators=[
        DataRequired("A post needs some content."), printable(allow_newlines=True),
        Length(max=CONTENT_MAX, message=f"Keep the content to {CONTENT_MAX:,} characters or fewer.")])
