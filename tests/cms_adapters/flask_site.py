"""A small, real Flask + Flask-Login + SQLAlchemy site for the flask_login adapter tests.

Users live in a table of its own (a unique name per test, so runs never collide); ``/login``
checks the password and calls ``login_user``, ``/logout`` calls ``logout_user``, ``/me`` says who
Flask-Login thinks is logged in (so tests can compare the adapter's verdict with the app's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, request
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from werkzeug.security import check_password_hash, generate_password_hash

PASSWORD = "correct horse battery staple"
_HASH_METHOD = "pbkdf2:sha256:1000"  # fast: these are test users


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class FlaskSite:
    app: Flask
    engine: sa.Engine
    db: scoped_session[Session]
    user_model: Any
    table: str

    def add_user(self, *, email: str, name: str, language: str | None = None) -> str:
        with Session(self.engine) as db:
            user = self.user_model(
                email=email,
                name=name,
                language=language,
                password_hash=generate_password_hash(PASSWORD, method=_HASH_METHOD),
                registered_at=utcnow(),
                active=True,
            )
            db.add(user)
            db.commit()
            return str(user.id)

    def update_user(self, user_id: str, **fields: Any) -> None:
        with Session(self.engine) as db:
            user = db.get(self.user_model, int(user_id))
            assert user is not None
            for key, value in fields.items():
                setattr(user, key, value)
            db.commit()

    def delete_user(self, user_id: str) -> None:
        with Session(self.engine) as db:
            user = db.get(self.user_model, int(user_id))
            if user is not None:
                db.delete(user)
                db.commit()

    def users_query(
        self, *, after: str | None, limit: int, since: datetime | None
    ) -> Iterable[Any]:
        """The app-side listing the in-process adapter's ``users_query`` setting points at."""
        model = self.user_model
        query = sa.select(model).order_by(model.id).limit(limit)
        if after is not None:
            query = query.where(model.id > int(after))
        if since is not None:
            query = query.where(model.registered_at >= since.astimezone(UTC).replace(tzinfo=None))
        return list(self.db.scalars(query))

    def drop(self) -> None:
        self.db.remove()
        self.user_model.metadata.drop_all(self.engine)
        self.engine.dispose()


def make_site(
    database_url: str,
    *,
    table: str,
    secret_key: str,
    fallback_keys: Iterable[str] = (),
    session_protection: str | None = "basic",
    lifetime: timedelta = timedelta(days=31),
) -> FlaskSite:
    class Base(DeclarativeBase):
        pass

    class User(UserMixin, Base):
        __tablename__ = table
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(sa.String(255), unique=True)
        name: Mapped[str] = mapped_column(sa.String(255))
        language: Mapped[str | None] = mapped_column(sa.String(16))
        password_hash: Mapped[str] = mapped_column(sa.String(255))
        registered_at: Mapped[datetime] = mapped_column(sa.DateTime())
        active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)

        @property
        def is_active(self) -> bool:  # type: ignore[override]
            return bool(self.active)

    engine = sa.create_engine(database_url)
    Base.metadata.create_all(engine)
    db = scoped_session(sessionmaker(engine))

    app = Flask(f"flask_site_{table}")
    app.config.update(
        SECRET_KEY=secret_key,
        SECRET_KEY_FALLBACKS=list(fallback_keys),
        PERMANENT_SESSION_LIFETIME=lifetime,
        TESTING=True,
    )
    manager = LoginManager(app)
    manager.session_protection = session_protection

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        try:
            return db.get(User, int(user_id))
        except ValueError:
            return None

    @app.teardown_appcontext
    def close_db(_: BaseException | None) -> None:
        db.remove()

    @app.post("/login")
    def login() -> tuple[str, int]:
        email = request.form.get("email", "")
        user = db.scalars(sa.select(User).where(User.email == email)).first()
        if user is None or not check_password_hash(user.password_hash, request.form["password"]):
            return "wrong email or password", 403
        if not login_user(user, remember=request.form.get("remember") == "1"):
            return "inactive", 403
        return f"hello {user.id}", 200

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> str:
        logout_user()
        return "bye"

    @app.get("/me")
    def me() -> str:
        return str(current_user.get_id()) if current_user.is_authenticated else "anonymous"

    return FlaskSite(app=app, engine=engine, db=db, user_model=User, table=table)
