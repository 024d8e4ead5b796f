# relayhub relay node image.
#
#   docker build -t relayhub .
#   docker run --rm -v relaydata:/data relayhub relay init --dir /data --hub-id hub0
#   docker run -d -p 8710:8710 -v relaydata:/data relayhub
#
# Inside the container the API binds 0.0.0.0 so the published port reaches it; on a
# host, `relayhub relay start` binds 127.0.0.1 unless told otherwise. No Docker engine
# runs on the project's build machines: this file is kept in step with the code
# (entry point, package layout, config) but is not built in CI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/relayhub

COPY pyproject.toml README.md requirements.lock ./
COPY relay ./relay
COPY adapters ./adapters
COPY appchains ./appchains
COPY benchmarks ./benchmarks
# The exact versions CI tested (requirements.lock, every package with its sha256), then
# the project itself without resolving anything again.
RUN pip install --require-hashes -r requirements.lock && pip install --no-deps . \
    && useradd --create-home --uid 10001 relay && mkdir /data && chown relay /data

USER relay
VOLUME ["/data"]
EXPOSE 8710
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8710/healthz').status == 200 else 1)"
ENTRYPOINT ["relayhub"]
CMD ["relay", "start", "--dir", "/data", "--host", "0.0.0.0", "--port", "8710"]
