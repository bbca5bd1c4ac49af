"""Distribution metadata for proabono-bridge.

Core dependencies stay small (what the gate, the client and the embedded sandbox need); everything
heavy lives in extras so a site owner installs only what their adapters and backends use.
"""

import os
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

#: The gate's hot path. With BRIDGE_COMPILE=1 (mypy installed, built without isolation:
#: ``BRIDGE_COMPILE=1 pip install --no-build-isolation .``) these are compiled with mypyc;
#: otherwise everything is plain Python. Same sources, same behaviour, less time per request.
HOT_MODULES = ["middleware/gate.py", "middleware/inject.py", "middleware/http.py"]


def hot_path_extensions() -> list:
    if os.environ.get("BRIDGE_COMPILE", "") in ("", "0"):
        return []
    from mypyc.build import mypycify

    return mypycify(HOT_MODULES, opt_level="3")


EXTRAS = {
    "sql": ["SQLAlchemy>=2.0"],
    "wordpress": ["SQLAlchemy>=2.0", "phpserialize>=1.3", "PyMySQL>=1.1"],
    "django": ["Django>=4.2", "SQLAlchemy>=2.0"],
    "flask-login": ["Flask-Login>=0.6", "SQLAlchemy>=2.0"],
    "postgres": ["psycopg[binary]>=3.1"],
    "redis": ["redis>=5.0"],
    "progress": ["tqdm>=4.66"],
    "browser": ["playwright>=1.40"],
}
EXTRAS["test"] = sorted(
    {
        # every adapter and backend is tested on its real parts
        *EXTRAS["wordpress"],
        *EXTRAS["django"],
        *EXTRAS["flask-login"],
        *EXTRAS["postgres"],
        *EXTRAS["redis"],
        *EXTRAS["progress"],
        *EXTRAS["browser"],
        "pytest>=8",
        "pytest-timeout>=2.2",
        "hypothesis>=6.100",
        "responses>=0.25",
        "ruff>=0.6",
        "mypy>=1.10",
        "types-requests",
        "types-cachetools",
    }
)
EXTRAS["all"] = sorted({dep for deps in EXTRAS.values() for dep in deps})

setup(
    name="proabono-bridge",
    version="0.1.0",
    description="Subscription billing (ProAbono model) in front of any web site: sync, gating, links.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["bridge", "bridge.*", "middleware", "middleware.*",
                                    "cms_adapters", "cms_adapters.*"]),
    package_data={"bridge": ["py.typed", "sandbox/*.toml", "sandbox/templates/portal/*.html"],
                  "middleware": ["py.typed"],
                  "cms_adapters": ["py.typed"]},
    install_requires=[
        "requests>=2.31",
        "flask>=3.0",
        "itsdangerous>=2.1",
        "cachetools>=5.3",
        "waitress>=3.0",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["proabono-bridge = middleware.cli:main"]},
    ext_modules=hot_path_extensions(),
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Flask",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Middleware",
        "Typing :: Typed",
    ],
)
