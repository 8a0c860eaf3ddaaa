# One image for every Lotse role; docker-compose.yml picks the role with `command:`. No secret is baked in:
# DATA_KEY, passwords and Twilio credentials arrive as environment variables when a container starts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY shared ./shared
COPY lotse ./lotse
COPY services ./services
# A regular (not editable) install into site-packages; the build directory is not needed afterwards.
RUN pip install --no-deps . \
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
