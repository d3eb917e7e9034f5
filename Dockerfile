# bosun server image: build in a Rust image, run as a non-root user (uid 10001) in a slim Debian.
# Build: docker build -t bosun .
# Run:   docker run -p 3000:3000 -v bosun-data:/data bosun    (BOSUN_RUN_MODE=placeholder, or:)
#
# With the Docker sandbox on this host, bosun starts agent containers through the host's
# engine, which resolves bind mounts on the host: give bosun the socket, and its data directory
# at the same path inside and outside. deploy/compose.yml does exactly that; by hand:
#   docker run -p 3000:3000 -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add $(stat -c %g /var/run/docker.sock) \
#     -v /srv/bosun:/srv/bosun -e BOSUN_DATA_DIR=/srv/bosun bosun
# (the socket gives bosun control of the engine: run it only on a host dedicated to it).
# With an engine on another host (BOSUN_DOCKER_HOST, fly.toml), no socket and no same-path
# mount are needed: checkouts are copied.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin bosun \
 && install -D target/release/bosun /out/bosun

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bosun \
 && mkdir -p /data && chown bosun:bosun /data
COPY --from=build /out/bosun /usr/local/bin/bosun
USER bosun
ENV BOSUN_DATA_DIR=/data \
    BOSUN_LISTEN=0.0.0.0:3000 \
    BOSUN_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/bosun", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/bosun"]
CMD ["serve"]
