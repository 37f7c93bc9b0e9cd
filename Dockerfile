# Spool in a container: build and unit-test in a full Debian 12 image, ship the programs in a
# slim one with only the shared libraries they load. One image runs every role; the first
# argument picks the program (scripts/docker-entrypoint.sh):
#
#   docker build -t spool .
#   docker run --rm -e SPOOL_DATABASE_URL=postgresql://u:p@db/spool spool spool migrate
#   docker run -d -p 8080:8080 -e SPOOL_DATABASE_URL=postgresql://u:p@db/spool spool
#   docker run -d -p 8080:8080 -e SPOOL_DATABASE_URL=... spool spoold --config /etc/spool/spoold.conf
#   docker run --rm -e SPOOL_DATABASE_URL=... spool spool tokens create --role admin
#   docker run -d -e SPOOL_DATABASE_URL=... spool spool-worker ...     (when it is built)
#
# Settings come from SPOOL_* variables (SPOOL_LISTEN, SPOOL_DATABASE_URL, ...) or a config
# file mounted over /etc/spool/. The programs run as the unprivileged user spool (10001).

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libpq-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)"
# The unit tests need no database; the integration and pgTAP suites run in CI
# (scripts/test.sh), which starts PostgreSQL.
RUN ctest --test-dir /build -R '^unit_' --output-on-failure
# spool-worker is shipped when this tree builds it, so the image builds before and after the
# worker lands. Binaries are stripped: the image is for running, the build tree for debugging.
RUN mkdir -p /out \
 && for b in spoold spool spool-worker; do \
      if [ -x "/build/$b" ]; then install -s -m 0755 "/build/$b" /out/; fi; \
    done \
 && test -x /out/spoold && test -x /out/spool

FROM debian:12-slim AS runtime
# libpq5, libjson-c5, libmicrohttpd12 (spoold) and libcurl4 (spool-worker) bring the rest
# (OpenSSL, GnuTLS, Kerberos) as dependencies; ca-certificates for TLS to the database and
# to the worker's HTTP services.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libjson-c5 libmicrohttpd12 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 spool \
 && useradd --system --uid 10001 --gid spool --home-dir /var/lib/spool --create-home \
      --shell /usr/sbin/nologin spool
COPY --from=build /out/ /usr/local/bin/
COPY scripts/docker-entrypoint.sh /usr/local/bin/spool-entrypoint
COPY scripts/docker-healthcheck.sh /usr/local/bin/spool-healthcheck
COPY config/spool.conf config/spoold.conf /etc/spool/
USER 10001:10001
WORKDIR /var/lib/spool
# Inside a container spoold must listen on every interface to be reachable.
ENV SPOOL_LISTEN=0.0.0.0:8080
EXPOSE 8080
STOPSIGNAL SIGTERM
# GET /healthz in a spoold container; containers of the other roles report healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/spool-healthcheck"]
ENTRYPOINT ["/usr/local/bin/spool-entrypoint"]
CMD ["spoold"]
