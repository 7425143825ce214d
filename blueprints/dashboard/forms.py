from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice

from services.tracking.ratings import MAX_SCORE, MIN_SCORE


class RatingForm(FlaskForm):
    """A score from 1 to 5. Anything else leaves `score.data` None (or out of range) and the
    rating service refuses it with the one message the page shows next to the field."""

    score = RadioField(
        "Your rating",
        choices=[SelectChoice(n, str(n)) for n in range(MIN_SCORE, MAX_SCORE + 1)],
        coerce=int,
        validate_choice=False,
    )
