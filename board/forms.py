"""Forms (Flask-WTF): CSRF on every POST, and messages a person understands."""

import re
import unicodedata

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from . import names, passwords
from .models import CONTENT_MAX, EMAIL_MAX, NAME_MAX, TITLE_MAX

PASSWORD_MIN = 8
PASSWORD_MAX = 256  # hashing is deliberately slow; no megabyte passwords

# Embeddings, overrides and isolates: an unclosed one turns the rest of the line around it.
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern).
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Formatting, separators, controls, combining marks alone, unassigned: nothing a reader sees.
UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})


class Form(FlaskForm):
    class Meta:
        def wrap_formdata(self, form, formdata):
            # Only form fields feed the form: Flask-WTF would also hand a field a file part
            # or a JSON value of the same name, which no field here expects (and JSON that is
            # not an object, or not JSON at all, would fail in Flask-WTF).
            if request.is_json:
                return None
            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is None or wrapped is formdata:  # nothing submitted, or data passed in by code
                return wrapped
            return request.form


def clean(value):
    """Stripped and in one Unicode form (NFC), so equal-looking text compares and measures equal."""
    return unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else value


def clean_email(value):
    # Lower-cased before the length check: lower-casing can lengthen text ("İ" becomes two characters).
    return clean(value).lower() if isinstance(value, str) else value


def printable(allow_newlines: bool = False):
    """Refuse control characters, C0 (NUL and the like) and C1 (NEL, CSI): no use in text, PostgreSQL rejects
    NUL outright, and CSI starts a terminal escape in a log viewed in one."""
    pattern = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]" if allow_newlines else r"[\x00-\x1f\x7f-\x9f]")

    def check(form, field):
        if field.data and pattern.search(field.data):
            raise ValidationError("Please remove the invisible control characters.")

    return check


def visible(text: str) -> bool:
    return any(unicodedata.category(char) not in UNSEEN_CATEGORIES and char not in BLANK_GLYPHS for char in text)


def readable(single_line: bool = True):
    """Refuse text that shows nothing, and (in one-line fields) text-direction controls."""

    def check(form, field):
        if field.data and not visible(field.data):
            raise ValidationError("Please type something visible: this is only invisible characters.")
        if single_line and field.data and DIRECTION_CONTROLS.search(field.data):
            raise ValidationError("Please remove the text-direction control characters.")

    return check


def no_format_characters(form, field):
    """Refuse format characters in a name: direction marks (U+200E, U+200F, U+061C), zero-width spaces and
    joiners, soft hyphens and the like draw nothing, so two names that look alike would differ by them."""
    if field.data and any(unicodedata.category(char) == "Cf" for char in field.data):
        raise ValidationError("Please remove the invisible characters (direction marks, zero-width characters).")


def acceptable_password(email_field: str | None = "email"):
    """A password that is neither common nor the account's email address (NIST SP 800-63B)."""

    def check(form, field):
        email = form[email_field].data if email_field else None
        if field.data and (problem := passwords.problem(field.data, email)):
            raise ValidationError(problem)

    return check


def new_password_field(label: str, email_field: str | None = "email") -> PasswordField:
    return PasswordField(label, validators=[
        DataRequired("Please choose a password."),
        Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
               message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters."),
        acceptable_password(email_field)])


class RegisterForm(Form):
    name = StringField("Name", filters=[clean], validators=[
        DataRequired("Please enter your name."), printable(), readable(), no_format_characters,
        Length(max=NAME_MAX, message=f"At most {NAME_MAX} characters.")])
    email = EmailField("Email", filters=[clean_email], validators=[
        DataRequired("Please enter your email address."), printable(), Length(max=EMAIL_MAX),
        Email("That does not look like an email address.")])
    password = new_password_field("Password")
    confirm = PasswordField("Repeat password", validators=[
        DataRequired("Please repeat the password."), EqualTo("password", "The two passwords differ.")])

    def validate_name(self, field):
        if field.data and names.taken(field.data):
            raise ValidationError("An author with this name, or one that looks like it, exists; please choose "
                                  "another.")


class LoginForm(Form):
    # No account has a longer address; the limit also bounds what the login throttle stores.
    email = EmailField("Email", filters=[clean_email], validators=[
        DataRequired("Please enter your email address."), printable(),
        Length(max=EMAIL_MAX, message="No account has an email address that long.")])
    password = PasswordField("Password", validators=[DataRequired("Please enter your password.")])
    remember = BooleanField("Remember me")


class PasswordChangeForm(Form):
    current = PasswordField("Current password", validators=[DataRequired("Please enter your current password.")])
    # The email is the author's, checked by the view.
    password = new_password_field("New password", email_field=None)
    confirm = PasswordField("Repeat new password", validators=[
        DataRequired("Please repeat the new password."), EqualTo("password", "The two passwords differ.")])


class PostForm(Form):
    title = StringField("Title", filters=[clean], validators=[
        DataRequired("A post needs a title."), printable(), readable(),
        Length(max=TITLE_MAX, message=f"Keep the title to {TITLE_MAX} characters or fewer.")])
    content = TextAreaField("Content", filters=[clean], validators=[
        DataRequired("A post needs some content."), printable(allow_newlines=True), readable(single_line=False),
        Length(max=CONTENT_MAX, message=f"Keep the content to {CONTENT_MAX:,} characters or fewer.")])
