"""The upload form (a file and its description); delete buttons use CsrfOnlyForm."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length

from services.tracking.attachments import DESCRIPTION_MAX


class AttachmentForm(FlaskForm):
    # The type and size are decided by services.tracking.attachments from the content, not here.
    file = FileField("File")
    description = StringField("Description", validators=[Length(max=DESCRIPTION_MAX)])
