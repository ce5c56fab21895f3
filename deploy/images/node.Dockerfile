# The Node layer of the local images: the Debian base (mmdebstrap, scripts/images.sh) plus the Node
# binary that scripts/bootstrap.sh installed on the host, where the public node image keeps it, and
# the same unprivileged user `node` (uid 1000). Nothing is downloaded while building.
ARG BASE=flotilla-local/debian:bookworm
FROM ${BASE}
COPY node /usr/local/bin/node
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/sh node \
  && node --version
