from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    # No deliverability check: an unknown address simply fails to sign in.
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")


class SwitchOrgForm(FlaskForm):
    organization_id = IntegerField(validators=[DataRequired()])
