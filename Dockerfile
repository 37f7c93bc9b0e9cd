# Spool: build and test in a full Debian image, ship spoold and spool in a slim one.
#   docker build -t spool .
#   docker run --rm -e SPOOL_DATABASE_URL=postgresql://... spool spool migrate
#   docker run --rm -p 8080:8080 -e SPOOL_DATABASE_URL=... spool spoold --listen 0.0.0.0:8080
# The same image runs any role: the command picks the program.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libpq-dev libjson-c-dev libcmocka-dev \
      libmicrohttpd-dev libcurl4-openssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Unit tests need no database; the integration suites run in CI (scripts/test.sh).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" \
 && ctest --test-dir /build -R '^unit_' --output-on-failure \
 && mkdir -p /out \
 && for b in spoold spool spool-worker; do \
      if [ -x "/build/$b" ]; then install -m 0755 "/build/$b" /out/; fi; \
    done

FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libjson-c5 libmicrohttpd12 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/spool --create-home --shell /usr/sbin/nologin spool
COPY --from=build /out/ /usr/local/bin/
COPY config/ /etc/spool/
USER spool
EXPOSE 8080
ENV SPOOL_LISTEN=0.0.0.0:8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1"]
CMD ["spoold"]
