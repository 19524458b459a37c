"""The Flask extensions the domain needs, created unbound here and bound in `create_app`.

CSRF protection belongs to the web layer and lives in `core.security`, so that importing the
domain never loads a form library.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base whose constraint names are predictable, so migrations can alter them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_N_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
# SQLite cannot ALTER most things in place: batch mode lets Alembic rebuild tables instead.
migrate = Migrate(render_as_batch=True)
# Limits are declared on the views (see security.py); storage and switches come from config.
limiter = Limiter(key_func=get_remote_address)
