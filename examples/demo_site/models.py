"""The site's users: one SQLAlchemy table in ``instance/site.db``, nothing billing-related.

The site knows nothing of subscriptions: the bridge reads these users through the ``flask_login``
adapter (the app's own ``user_loader``) and syncs them to billing customers ``user-{id}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from flask_login import UserMixin
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from werkzeug.security import check_password_hash, generate_password_hash

EXTENSION = "demo_db"


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(40), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    registered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


def init_db(app: Flask, path: Path) -> scoped_session[Session]:
    """Open (and create) the SQLite database; one session per request / app context."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    session = scoped_session(sessionmaker(engine, expire_on_commit=False))
    app.extensions[EXTENSION] = session

    @app.teardown_appcontext
    def _remove(_: BaseException | None = None) -> None:
        session.remove()

    return session


def db() -> Session:
    """The current app's database session."""
    session: scoped_session[Session] = current_app.extensions[EXTENSION]
    return session()


def users_query(*, after: str | None, limit: int, since: datetime | None) -> Iterable[User]:
    """Users in id order, for the bridge's bulk sync (``users_query`` of the adapter)."""
    query = sa.select(User).order_by(User.id).limit(limit)
    if after is not None:
        query = query.where(User.id > int(after))
    if since is not None:
        query = query.where(User.registered_at >= since)
    return list(db().scalars(query))
