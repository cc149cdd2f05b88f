# Ember images for users: `docker build -t ember:latest .`
# One image holds ember-node (the default command), ember-coordinator and
# emberctl. On a machine that cannot pull base images, build the
# registry-free image instead: deploy/build-scratch-image.sh.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ember-node -p ember-coordinator --bins \
 && mkdir /out && cp target/release/ember-node target/release/ember-coordinator target/release/emberctl /out/

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/ember ember \
 && mkdir -p /var/lib/ember /modules && chown ember /var/lib/ember
COPY --from=build /out/ /usr/local/bin/
USER ember
WORKDIR /var/lib/ember
ENV EMBER_LISTEN=0.0.0.0:7070 EMBER_GOSSIP_LISTEN=0.0.0.0:7946 EMBER_METRICS_LISTEN=0.0.0.0:9070 EMBER_DATA_DIR=/var/lib/ember
EXPOSE 7070 7946/udp 9070
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 CMD ["emberctl", "--node", "http://127.0.0.1:7070", "health"]
ENTRYPOINT ["ember-node"]
