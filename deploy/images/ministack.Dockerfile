# The local AWS emulator's image: MiniStack at the version pinned in
# scripts/emulator-requirements.txt, on the Debian base (mmdebstrap, scripts/images.sh). pip installs
# only from the wheelhouse built on the host (no index is reached while building). It serves on
# GATEWAY_PORT (4566 unless set) through the project's scripts/ministack-serve.py, like the native
# emulator. With the Docker socket mounted and DOCKER_HOST set, its ECS runs tasks as containers.
ARG BASE=flotilla-local/debian:bookworm
FROM ${BASE}
COPY wheels /tmp/wheels
COPY emulator-requirements.txt /tmp/emulator-requirements.txt
RUN python3 -m venv /opt/ministack \
  && /opt/ministack/bin/pip install --quiet --no-index --find-links /tmp/wheels -r /tmp/emulator-requirements.txt \
  && rm -rf /tmp/wheels /root/.cache
COPY ministack-serve.py /opt/ministack/ministack-serve.py
ENV GATEWAY_PORT=4566 LOG_LEVEL=WARNING PYTHONUNBUFFERED=1
HEALTHCHECK --interval=1s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/opt/ministack/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_ministack/health' % os.environ['GATEWAY_PORT'], timeout=2)"]
EXPOSE 4566
CMD ["/opt/ministack/bin/python", "/opt/ministack/ministack-serve.py"]
