"""A WordPress on the test's side: its user tables, its login cookie, its session tokens.

Everything here is written from WordPress's source (``wp-admin/includes/schema.php``,
``wp-includes/pluggable.php``, ``class-wp-session-tokens.php``), independently of
``cms_adapters.wordpress``: the adapter is checked against this generator, and the generator
against vectors computed by WordPress's own PHP (``VECTOR``, ``PHP_VECTOR_SCRIPT``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import phpserialize
from sqlalchemy import Engine, create_engine, text

from cms_adapters.wordpress import WordPressAdapter

Environ = dict[str, Any]

SITE_URL = "https://blog.example.com"
LOGGED_IN_KEY = "logged-in-key: /k$Y]8@ q|x"
LOGGED_IN_SALT = "logged-in-salt: Zx#9 %7C~"
NOW = 1_800_000_000  # 2027-01-15, the world's fixed clock
TWO_DAYS = 2 * 86400

# --- schema: wp-admin/includes/schema.php, wp_get_db_schema('global') --------------------------


def mysql_schema(prefix: str) -> list[str]:
    """``$users_single_table`` and ``$usermeta_table`` as WordPress creates them on MySQL."""
    charset = "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
    return [
        f"""CREATE TABLE {prefix}users (
        ID bigint(20) unsigned NOT NULL auto_increment,
        user_login varchar(60) NOT NULL default '',
        user_pass varchar(255) NOT NULL default '',
        user_nicename varchar(50) NOT NULL default '',
        user_email varchar(100) NOT NULL default '',
        user_url varchar(100) NOT NULL default '',
        user_registered datetime NOT NULL default '0000-00-00 00:00:00',
        user_activation_key varchar(255) NOT NULL default '',
        user_status int(11) NOT NULL default '0',
        display_name varchar(250) NOT NULL default '',
        PRIMARY KEY  (ID),
        KEY user_login_key (user_login),
        KEY user_nicename (user_nicename),
        KEY user_email (user_email)
        ) {charset}""",
        f"""CREATE TABLE {prefix}usermeta (
        umeta_id bigint(20) unsigned NOT NULL auto_increment,
        user_id bigint(20) unsigned NOT NULL default '0',
        meta_key varchar(255) default NULL,
        meta_value longtext,
        PRIMARY KEY  (umeta_id),
        KEY user_id (user_id),
        KEY meta_key (meta_key(191))
        ) {charset}""",
    ]


def sqlite_schema(prefix: str) -> list[str]:
    """The same tables translated the way the SQLite Database Integration plugin does."""
    return [
        f"""CREATE TABLE {prefix}users (
        ID integer PRIMARY KEY AUTOINCREMENT NOT NULL,
        user_login text NOT NULL default '',
        user_pass text NOT NULL default '',
        user_nicename text NOT NULL default '',
        user_email text NOT NULL default '',
        user_url text NOT NULL default '',
        user_registered text NOT NULL default '0000-00-00 00:00:00',
        user_activation_key text NOT NULL default '',
        user_status integer NOT NULL default '0',
        display_name text NOT NULL default ''
        )""",
        f"CREATE INDEX {prefix}users__user_login_key ON {prefix}users (user_login)",
        f"CREATE INDEX {prefix}users__user_nicename ON {prefix}users (user_nicename)",
        f"CREATE INDEX {prefix}users__user_email ON {prefix}users (user_email)",
        f"""CREATE TABLE {prefix}usermeta (
        umeta_id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
        user_id integer NOT NULL default '0',
        meta_key text default NULL,
        meta_value text
        )""",
        f"CREATE INDEX {prefix}usermeta__user_id ON {prefix}usermeta (user_id)",
        f"CREATE INDEX {prefix}usermeta__meta_key ON {prefix}usermeta (meta_key)",
    ]


# --- the cookie: pluggable.php ------------------------------------------------------------------


def wp_salt_logged_in(key: str, salt: str) -> str:
    """wp_salt('logged_in') when LOGGED_IN_KEY and LOGGED_IN_SALT are set and unique."""
    return key + salt


def wp_hash(data: str, salt: str) -> str:
    return hmac.HMAC(salt.encode(), data.encode(), "md5").hexdigest()


def wp_generate_auth_cookie(
    user_login: str, user_pass: str, expiration: int, token: str, *, key: str, salt: str
) -> str:
    """The ``logged_in`` cookie value WordPress computes (before setcookie() encodes it)."""
    pass_frag = user_pass[8:12]
    derived = wp_hash(
        "|".join([user_login, pass_frag, str(expiration), token]), wp_salt_logged_in(key, salt)
    )
    digest = hmac.HMAC(
        derived.encode(), "|".join([user_login, str(expiration), token]).encode(), "sha256"
    )
    return "|".join([user_login, str(expiration), token, digest.hexdigest()])


def setcookie_value(value: str) -> str:
    """What PHP's setcookie() sends and the browser sends back: rawurlencode()."""
    return quote(value, safe="-_.~")


def verifier(token: str) -> str:
    """WP_Session_Tokens::hash_token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """wp_generate_password(43, false, false)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


def phpass_like_hash() -> str:
    """A user_pass in phpass's format ($P$B + 31 chars): only characters 8..11 matter here."""
    itoa64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
    return "$P$B" + "".join(secrets.choice(itoa64) for _ in range(31))


def load_sessions(meta_value: str | None) -> dict[bytes, Any]:
    """WP_User_Meta_Session_Tokens::get_sessions, before the expiry filter."""
    if not meta_value:
        return {}
    loaded = phpserialize.loads(meta_value.encode())
    return loaded if isinstance(loaded, dict) else {}


def dump_sessions(sessions: dict[bytes, Any]) -> str:
    return phpserialize.dumps(sessions).decode()


def create_session(
    meta_value: str | None,
    token: str,
    expiration: int,
    *,
    login: int,
    ip: str | None = None,
    ua: str | None = None,
) -> str:
    """WP_Session_Tokens::create + update_session: the new ``session_tokens`` meta value.

    As WordPress does, sessions already expired at ``login`` are dropped while rewriting.
    """
    session: dict[bytes, Any] = {b"expiration": expiration}
    if ip:
        session[b"ip"] = ip.encode()
    if ua:
        session[b"ua"] = ua.encode()
    session[b"login"] = login
    sessions = {
        k: v
        for k, v in load_sessions(meta_value).items()
        if (v if isinstance(v, int) else v.get(b"expiration", 0)) >= login
    }
    sessions[verifier(token).encode()] = session
    return dump_sessions(sessions)


# --- vectors from WordPress's own PHP -----------------------------------------------------------

#: Obtained with ``apt-get install -y wordpress php-cli`` (WordPress from Debian, PHP 8.2) by
#: running ``php vectors.php`` with the script below: the real pluggable.php and session-token
#: classes, only hooks, options and user lookup stubbed. ``test_generator_matches_wordpress_php``
#: reruns it when php and /usr/share/wordpress are present.
VECTOR = {
    "site_url": "https://blog.example.com",
    "cookiehash": "4eccb99b567456ded777d1baf6bfd8b5",
    "user_id": 7,
    "user_login": "ada.lovelace@example.com",
    "user_pass": "$P$BZlPX7NIx8MYpXokBW2AGsN7i.aUOt0",
    "expiration": 4102444800,
    "login": 1795306023,  # time() during the PHP run
    "ip": "203.0.113.9",
    "ua": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "wp_hash_of_data": "2911d10f866377c56a942bcb308b577a",
    "token": "Xq3vT0kLm9PzR2sW8yB1cD4eF7gH5jK6nA0bC3dE2fG",
    "cookie": (
        "ada.lovelace@example.com|4102444800|Xq3vT0kLm9PzR2sW8yB1cD4eF7gH5jK6nA0bC3dE2fG"
        "|7d9c00e541be1bdda2147ed4d186131a1c39de79a19339b9fe693821217b7239"
    ),
    "set_cookie_value": (
        "ada.lovelace%40example.com%7C4102444800%7CXq3vT0kLm9PzR2sW8yB1cD4eF7gH5jK6nA0bC3dE2fG"
        "%7C7d9c00e541be1bdda2147ed4d186131a1c39de79a19339b9fe693821217b7239"
    ),
    "session_tokens": (
        'a:1:{s:64:"76afab486074be6356e97e0289e4dbb9b8e4115a205c77097a2b41698fefc436";'
        'a:4:{s:10:"expiration";i:4102444800;s:2:"ip";s:11:"203.0.113.9";'
        's:2:"ua";s:70:"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";'
        's:5:"login";i:1795306023;}}'
    ),
}

PHP_VECTOR_SCRIPT = r"""<?php
define('ABSPATH', '/usr/share/wordpress/');
define('LOGGED_IN_KEY', 'logged-in-key: /k$Y]8@ q|x');
define('LOGGED_IN_SALT', 'logged-in-salt: Zx#9 %7C~');
$GLOBALS['meta'] = array();
function apply_filters($hook, $value) { return $value; }
function do_action() {}
function __($s) { return $s; }
function wp_unslash($s) { return $s; }
function get_site_option($o) { return false; }
function wp_generate_password() { return 'Xq3vT0kLm9PzR2sW8yB1cD4eF7gH5jK6nA0bC3dE2fG'; }
function get_user_meta($id, $k, $single) { return $GLOBALS['meta'][$k] ?? ''; }
function update_user_meta($id, $k, $v) { $GLOBALS['meta'][$k] = $v; }
function delete_user_meta($id, $k) { unset($GLOBALS['meta'][$k]); }
function wp_doing_ajax() { return false; }
$user = (object) array('ID' => 7, 'user_login' => 'ada.lovelace@example.com',
    'user_pass' => '$P$BZlPX7NIx8MYpXokBW2AGsN7i.aUOt0');
function get_userdata($id) { return $GLOBALS['user']; }
function get_user_by($f, $v) {
    return $v === $GLOBALS['user']->user_login ? $GLOBALS['user'] : false;
}
require ABSPATH . 'wp-includes/class-wp-session-tokens.php';
require ABSPATH . 'wp-includes/class-wp-user-meta-session-tokens.php';
require ABSPATH . 'wp-includes/pluggable.php';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '203.0.113.9';
$_SERVER['HTTP_USER_AGENT'] = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) '
    . 'Gecko/20100101 Firefox/128.0';
$expiration = 4102444800;
$token = WP_Session_Tokens::get_instance(7)->create($expiration);
$cookie = wp_generate_auth_cookie(7, $expiration, 'logged_in', $token);
echo json_encode(array(
  'cookiehash' => md5('https://blog.example.com'),
  'wp_hash_of_data' => wp_hash('data', 'logged_in'),
  'token' => $token,
  'cookie' => $cookie,
  'set_cookie_value' => rawurlencode($cookie),
  'session_tokens' => serialize($GLOBALS['meta']['session_tokens']),
  'login' => $GLOBALS['meta']['session_tokens'][hash('sha256', $token)]['login'],
  'validates' => wp_validate_auth_cookie($cookie, 'logged_in'),
), JSON_UNESCAPED_SLASHES), "\n";
"""


# --- the world the contract suite drives --------------------------------------------------------


@dataclass
class WordPressWorld:
    """A WordPress database (MariaDB or SQLite) and the operations WordPress performs on it."""

    engine: Engine
    prefix: str
    now: float = NOW
    adapter: WordPressAdapter = field(init=False)

    def __post_init__(self) -> None:
        self.adapter = self.make_adapter()

    def make_adapter(self, **overrides: Any) -> WordPressAdapter:
        settings: dict[str, Any] = {
            "engine": self.engine,
            "site_url": SITE_URL,
            "logged_in_key": LOGGED_IN_KEY,
            "logged_in_salt": LOGGED_IN_SALT,
            "table_prefix": self.prefix,
            "clock": lambda: self.now,
        }
        return WordPressAdapter(**(settings | overrides))

    @property
    def cookie_name(self) -> str:
        return (
            "wordpress_logged_in_"
            + hashlib.md5(SITE_URL.encode(), usedforsecurity=False).hexdigest()
        )

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as connection:
            result = connection.execute(text(statement.replace("wp_", self.prefix)), params)
            return list(result) if result.returns_rows else []

    # users

    def create_user(
        self,
        *,
        email: str,
        name: str,
        language: str | None = None,
        login: str | None = None,
        registered: datetime | None = None,
    ) -> str:
        login = login or email
        when = registered or datetime.fromtimestamp(self.now, UTC)
        self.sql(
            "INSERT INTO wp_users (user_login, user_pass, user_nicename, user_email, user_url,"
            " user_registered, user_activation_key, user_status, display_name)"
            " VALUES (:login, :pass, :nicename, :email, '', :registered, '', 0, :name)",
            login=login,
            **{"pass": phpass_like_hash()},
            nicename=login.replace("@", "").replace(".", "-")[:50],
            email=email,
            registered=when.strftime("%Y-%m-%d %H:%M:%S"),
            name=name,
        )
        user_id = str(self.sql("SELECT ID FROM wp_users WHERE user_login = :l", l=login)[0][0])
        for key, value in (("nickname", login), ("locale", _wp_locale(language))):
            self.add_meta(user_id, key, value)
        return user_id

    def add_meta(self, user_id: str, key: str, value: str) -> None:
        self.sql(
            "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (:u, :k, :v)",
            u=int(user_id),
            k=key,
            v=value,
        )

    def meta(self, user_id: str, key: str) -> str | None:
        rows = self.sql(
            "SELECT meta_value FROM wp_usermeta WHERE user_id = :u AND meta_key = :k"
            " ORDER BY umeta_id",
            u=int(user_id),
            k=key,
        )
        return str(rows[0][0]) if rows else None

    def set_meta(self, user_id: str, key: str, value: str | None) -> None:
        """update_user_meta / delete_user_meta."""
        self.sql(
            "DELETE FROM wp_usermeta WHERE user_id = :u AND meta_key = :k", u=int(user_id), k=key
        )
        if value is not None:
            self.add_meta(user_id, key, value)

    def user_row(self, user_id: str) -> tuple[str, str]:
        login, password = self.sql(
            "SELECT user_login, user_pass FROM wp_users WHERE ID = :i", i=int(user_id)
        )[0]
        return str(login), str(password)

    def update_user(self, user_id: str, **fields: str) -> None:
        columns = {"email": "user_email", "name": "display_name"}
        for name, value in fields.items():
            if name == "language":
                self.set_meta(user_id, "locale", _wp_locale(value))
            else:
                self.sql(
                    f"UPDATE wp_users SET {columns[name]} = :v WHERE ID = :i",  # noqa: S608
                    v=value,
                    i=int(user_id),
                )

    def delete_user(self, user_id: str) -> None:
        """wp_delete_user: the meta rows, then the user row."""
        self.sql("DELETE FROM wp_usermeta WHERE user_id = :u", u=int(user_id))
        self.sql("DELETE FROM wp_users WHERE ID = :i", i=int(user_id))

    def missing_id(self) -> str:
        highest = self.sql("SELECT MAX(ID) FROM wp_users")[0][0] or 0
        return str(int(highest) + 1000)

    # sessions

    def cookie_for(
        self, user_id: str, *, expiration: int | None = None, session_expiration: int | None = None
    ) -> str:
        """wp_set_auth_cookie's logged_in value (decoded), with its session token stored."""
        login, password = self.user_row(user_id)
        expiration = int(self.now) + TWO_DAYS if expiration is None else expiration
        token = new_token()
        meta = create_session(
            self.meta(user_id, "session_tokens"),
            token,
            expiration if session_expiration is None else session_expiration,
            login=int(self.now),
            ip="203.0.113.9",
            ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        )
        self.set_meta(user_id, "session_tokens", meta)
        return wp_generate_auth_cookie(
            login, password, expiration, token, key=LOGGED_IN_KEY, salt=LOGGED_IN_SALT
        )

    def environ_for(self, cookie_value: str, *, encode: bool = True) -> Environ:
        value = setcookie_value(cookie_value) if encode else cookie_value
        return {
            "HTTP_COOKIE": f"wordpress_test_cookie=WP%20Cookie%20check; {self.cookie_name}={value}"
        }

    def login(self, user_id: str) -> Environ:
        return self.environ_for(self.cookie_for(user_id))

    def logout(self, session: Environ) -> None:
        """wp_logout → WP_Session_Tokens::destroy(token)."""
        login, _, token, _ = self.cookie_in(session).split("|")
        user_id = str(self.sql("SELECT ID FROM wp_users WHERE user_login = :l", l=login)[0][0])
        sessions = load_sessions(self.meta(user_id, "session_tokens"))
        sessions.pop(verifier(token).encode(), None)
        self.set_meta(user_id, "session_tokens", dump_sessions(sessions) if sessions else None)

    def cookie_in(self, session: Environ) -> str:
        for part in session["HTTP_COOKIE"].split("; "):
            name, _, value = part.partition("=")
            if name == self.cookie_name:
                return unquote(value)
        raise LookupError("no logged_in cookie in this session")

    def expired(self, user_id: str) -> Environ:
        """A cookie whose own expiration has passed (its session token is still live)."""
        past = int(self.now) - 1
        return self.environ_for(
            self.cookie_for(user_id, expiration=past, session_expiration=NOW * 2)
        )

    def tampered(self, session: Environ) -> Environ:
        """The last hmac character changed."""
        cookie = self.cookie_in(session)
        flipped = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
        return self.environ_for(flipped)

    def garbage(self) -> list[Environ]:
        return list(garbage_cases(self).values())


GARBAGE_IDS = (
    "three-fields",
    "five-fields",
    "one-field",
    "empty-value",
    "non-numeric-expiration",
    "negative-expiration",
    "float-expiration",
    "unicode-digit-expiration",
    "huge-expiration",
    "huge-value",
    "huge-username",
    "invalid-utf8-percent-encoded",
    "invalid-utf8-raw-bytes",
    "non-latin1-wsgi-text",
    "control-char-username",
    "unknown-user",
    "empty-hmac",
    "non-ascii-hmac",
    "other-site-cookiehash",
    "quoted-value",
)


def garbage_cases(world: WordPressWorld) -> dict[str, Environ]:
    """Malformed logged_in cookies for a live user, each with an id that reads like a spec."""
    user_id = world.create_user(email="garbage@example.com", name="Garbage")
    good = world.cookie_for(user_id)
    login, expiration, token, mac = good.split("|")

    def raw(value: str) -> Environ:
        return world.environ_for(value, encode=False)

    return {
        "three-fields": world.environ_for(f"{login}|{expiration}|{token}"),
        "five-fields": world.environ_for(f"{good}|extra"),
        "one-field": world.environ_for(login),
        "empty-value": raw(""),
        "non-numeric-expiration": world.environ_for(f"{login}|soon|{token}|{mac}"),
        "negative-expiration": world.environ_for(f"{login}|-{expiration}|{token}|{mac}"),
        "float-expiration": world.environ_for(f"{login}|{expiration}.0|{token}|{mac}"),
        "unicode-digit-expiration": world.environ_for(f"{login}|{chr(0x661) * 10}|{token}|{mac}"),
        "huge-expiration": world.environ_for(f"{login}|{'9' * 400}|{token}|{mac}"),
        "huge-value": world.environ_for(good + "A" * 5000),
        "huge-username": world.environ_for(f"{'a' * 3000}|{expiration}|{token}|{mac}"),
        "invalid-utf8-percent-encoded": raw(setcookie_value(good).replace("%40", "%FF", 1)),
        "invalid-utf8-raw-bytes": raw("\xff\xfe" + setcookie_value(good)),
        "non-latin1-wsgi-text": raw("\udcff" + setcookie_value(good)),
        "control-char-username": world.environ_for(f"ada\x00|{expiration}|{token}|{mac}"),
        "unknown-user": world.environ_for(f"nobody@example.com|{expiration}|{token}|{mac}"),
        "empty-hmac": world.environ_for(f"{login}|{expiration}|{token}|"),
        "non-ascii-hmac": world.environ_for(f"{login}|{expiration}|{token}|{mac[:-1]}é"),
        "other-site-cookiehash": _other_site(world, setcookie_value(good)),
        "quoted-value": raw(f'"{setcookie_value(good)}"'),
    }


def _other_site(world: WordPressWorld, value: str) -> Environ:
    other = (
        "wordpress_logged_in_"
        + hashlib.md5(b"https://other.example.com", usedforsecurity=False).hexdigest()
    )
    return {"HTTP_COOKIE": f"{other}={value}"}


def _wp_locale(language: str | None) -> str:
    """WordPress stores the user's chosen locale (``fr_FR``), or '' for the site's default."""
    if not language:
        return ""
    return {"fr": "fr_FR", "de": "de_DE", "en": "en_US"}.get(language, language)


# --- databases -----------------------------------------------------------------------------------


def unique_prefix() -> str:
    return f"wp_t{secrets.token_hex(4)}_"


@contextmanager
def wordpress_database(url: str, prefix: str) -> Iterator[Engine]:
    """The WordPress user tables under ``prefix`` in ``url``, dropped afterwards."""
    engine = create_engine(url, pool_pre_ping=True)
    schema = sqlite_schema(prefix) if engine.dialect.name == "sqlite" else mysql_schema(prefix)
    try:
        with engine.begin() as connection:
            for statement in schema:
                connection.execute(text(statement))
        yield engine
    finally:
        with engine.begin() as connection:
            for table in ("users", "usermeta"):
                connection.execute(text(f"DROP TABLE IF EXISTS {prefix}{table}"))
        engine.dispose()
