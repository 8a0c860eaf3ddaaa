# One image for every Lotse role; docker-compose.yml picks the role with `command:`. No secret is baked in:
# DATA_KEY, passwords and Twilio credentials arrive as environment variables when a container starts.
# Python 3.11.16 on Debian trixie, pinned to the digest of the tag's multi-platform index (linux/amd64:
# sha256:272efc3f…, linux/arm64: sha256:78451b3b…; docker-library/repo-info, build of 2026-08-25), so a rebuild gets
# the same base. To move on: the new tag's index digest from repo-info or `docker buildx imagetools inspect`.
FROM python:3.11.16-slim-trixie@sha256:be1575ed968de893bd54f4c56315ff7c4736ce522c1bca08fd521731aafc0d76

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# Dependencies first, from the runtime lock alone (exact versions, every file's hash checked, no dev tools), so that
# a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock \
    && rm requirements.lock

COPY pyproject.toml ./
COPY shared ./shared
COPY lotse ./lotse
COPY services ./services
# A regular (not editable) install into site-packages, built with the locked setuptools (no build isolation, which
# would fetch one unchecked); the build directory is not needed afterwards.
RUN pip install --no-deps --no-build-isolation . \
    && pip check \
    && cd / && rm -rf /src

RUN groupadd --gid 10001 lotse \
    && useradd --uid 10001 --gid lotse --no-create-home --home-dir /var/lib/lotse --shell /usr/sbin/nologin lotse \
    && mkdir -p /var/lib/lotse \
    && chown lotse:lotse /var/lib/lotse
# A named volume mounted here starts as a copy of this directory, so it belongs to lotse too.
WORKDIR /var/lib/lotse
# PYTHONSAFEPATH: `python -m` does not put the (writable) working directory in front of the installed packages.
ENV VAR_DIR=/var/lib/lotse \
    PYTHONSAFEPATH=1
USER 10001:10001

EXPOSE 8000
CMD ["python", "-m", "gateway"]
