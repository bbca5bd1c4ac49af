"""The demo site and its wiring: ``create_demo(instance_dir)`` → the site behind the bridge.

``create_site`` is an ordinary Flask + Flask-Login + SQLAlchemy site that knows nothing of billing
apart from two things a site owner would add: the download view records one ``downloads`` usage,
and the account page shows the subscription and the ``<!-- billing:links -->`` marker.

``create_demo`` wraps it with the bridge, configured by ``bridge.toml`` next to this file (the
file a site owner writes), with the instance's files (``site.db``, ``billing.db``, ``state.db``,
the generated secret keys) in ``instance_dir``; it starts lazy sync, so a user who registers
becomes a billing customer with the welcome offer within seconds.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from bridge.client import UsageChange
from bridge.config import Config, load_config
from bridge.errors import BillingError
from bridge.service import Bridge
from cms_adapters.registry import build_adapter
from examples.demo_site import content
from examples.demo_site.models import User, db, init_db, users_query
from middleware.app import make_sync
from middleware.flask import EXTENSION, ProAbonoBridge

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "bridge.toml"
DEFAULT_INSTANCE = HERE / "instance"
SYNC_INTERVAL = 2.0  # seconds between two rounds of the sync worker (new users, welcome offer)


def instance_secret(instance_dir: Path, name: str) -> str:
    """A random key kept in ``instance_dir/name`` (created on first use, readable by us only)."""
    path = instance_dir / name
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as stream:
            stream.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="ascii").strip()


def load_demo_config(instance_dir: Path) -> Config:
    """``bridge.toml``, with the bridge's secret key generated in the instance when the
    environment has none, and the instance's files moved to ``instance_dir`` when it is not the
    default ``instance/`` the file names."""
    instance_dir = instance_dir.resolve()
    env = dict(os.environ)
    env.setdefault("BRIDGE_SECRET_KEY", instance_secret(instance_dir, "bridge_secret_key"))
    config = load_config(CONFIG_FILE, env=env)
    if config.billing.sandbox_path == DEFAULT_INSTANCE / "billing.db":
        billing = dataclasses.replace(config.billing, url=f"sandbox://{instance_dir}/billing.db")
        config = dataclasses.replace(config, billing=billing)
    if config.state.path == DEFAULT_INSTANCE / "state.db":
        state = dataclasses.replace(config.state, path=instance_dir / "state.db")
        config = dataclasses.replace(config, state=state)
    return config


def _local(target: str | None) -> str:
    """A safe local redirect target (``next=``), else the home page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def create_site(instance_dir: Path) -> Flask:
    """The site alone: articles, registration, login, account. No bridge."""
    instance_dir = Path(instance_dir).resolve()
    instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance_dir))
    app.config.update(
        SECRET_KEY=instance_secret(instance_dir, "flask_secret_key"),
        SESSION_COOKIE_SAMESITE="Lax",
    )
    init_db(app, instance_dir / "site.db")
    manager = LoginManager(app)
    manager.login_view = "login"
    manager.login_message = "Sign in to see that page."

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        return db().get(User, int(user_id))

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {"site_name": "The Field Notes"}

    @app.get("/")
    def home() -> ResponseReturnValue:
        return render_template(
            "home.html",
            free=[a for a in content.ARTICLES if not a.premium],
            premium=[a for a in content.ARTICLES if a.premium],
            downloads=content.DOWNLOADS,
        )

    @app.get("/articles/<slug>")
    def article(slug: str) -> ResponseReturnValue:
        found = content.article(slug, premium=False) or abort(404)
        return render_template("article.html", article=found)

    @app.get("/premium/<slug>")
    def premium(slug: str) -> ResponseReturnValue:
        # The bridge lets this request through only for members with "premium-articles".
        found = content.article(slug, premium=True) or abort(404)
        return render_template("article.html", article=found)

    @app.get("/downloads/<name>")
    def download(name: str) -> ResponseReturnValue:
        # The bridge lets this through only with one "downloads" unit left; count it here.
        found = content.download(name) or abort(404)
        bridge = billing()
        if bridge is not None and current_user.is_authenticated:
            reference = bridge.reference_for(str(current_user.get_id()))
            try:
                bridge.client.record_usage(UsageChange(reference, "downloads", increment=1))
            except BillingError:
                return render_template("error.html", message="Billing is unavailable."), 503
            bridge.refresh(reference)  # the next request sees one download less
        return (
            found.text,
            200,
            {
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{found.name}"',
            },
        )

    @app.route("/register", methods=["GET", "POST"])
    def register() -> ResponseReturnValue:
        # ?offer=pro (from a pricing page) is the bridge's business: it remembers the choice and
        # sends the new member to subscribe once signed in. The site only keeps it in the form.
        offer = request.args.get("offer")
        if request.method == "POST":
            username = request.form.get("username", "").strip().lower()
            email = request.form.get("email", "").strip()
            password = request.form.get("password", "")
            problem = None
            if not username.isalnum() or len(username) > 40:
                problem = "Choose a user name of letters and digits."
            elif "@" not in email:
                problem = "Give an email address."
            elif len(password) < 4:
                problem = "Choose a password of at least 4 characters."
            elif db().query(User).filter_by(username=username).first() is not None:
                problem = "That user name is taken."
            if problem is None:
                user = User(username=username, email=email, name=username.capitalize())
                user.set_password(password)
                db().add(user)
                db().commit()
                login_user(user)
                flash(f"Welcome, {user.name}! Your account is ready.")
                return redirect(url_for("account"))
            flash(problem)
        return render_template("register.html", offer=offer)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        target = _local(request.values.get("next"))
        if request.method == "POST":
            username = request.form.get("username", "").strip().lower()
            user = db().query(User).filter_by(username=username).first()
            if user is not None and user.check_password(request.form.get("password", "")):
                login_user(user)
                return redirect(target)
            flash("Wrong user name or password.")
        return render_template("login.html", next=target)

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        logout_user()
        return redirect("/")

    @app.get("/account")
    @login_required
    def account() -> ResponseReturnValue:
        bridge = billing()
        state = None
        unavailable = False
        if bridge is not None:
            try:
                state = bridge.state(bridge.reference_for(str(current_user.get_id())))
            except BillingError:
                unavailable = True
        return render_template("account.html", state=state, unavailable=unavailable)

    @app.errorhandler(404)
    def not_found(_: Exception) -> ResponseReturnValue:
        return render_template("error.html", message="No such page."), 404

    return app


def billing() -> Bridge | None:
    """The bridge wrapping the current app, when there is one."""
    ext = current_app.extensions.get(EXTENSION)
    return None if ext is None else ext.bridge


def create_demo(instance_dir: Path = DEFAULT_INSTANCE, *, start_sync: bool = True) -> Flask:
    """The site behind the bridge (a WSGI app: ``app.wsgi_app`` is the gate)."""
    instance_dir = Path(instance_dir).resolve()
    app = create_site(instance_dir)
    config = load_demo_config(instance_dir)
    # In process: the adapter asks this app itself who is signed in (its session, its loader).
    options = {**config.adapter.options, "app": app, "users_query": users_query}
    adapter = build_adapter(dataclasses.replace(config.adapter, options=options))
    bridge = Bridge(config)
    # Lazy sync: users the gate identifies become customers (new ones get the welcome offer).
    sync = make_sync(bridge, adapter)
    ProAbonoBridge(app, adapter=adapter, bridge=bridge, sync=sync)
    if start_sync:
        sync.start(interval=SYNC_INTERVAL)
    return app
