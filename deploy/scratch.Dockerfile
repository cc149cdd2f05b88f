# The registry-free image: static binaries in an empty image. Nothing is
# pulled (FROM scratch never is). Built by deploy/build-scratch-image.sh,
# which first builds the binaries into deploy/.bin/.
FROM scratch
COPY deploy/.bin/ember-node deploy/.bin/ember-coordinator deploy/.bin/emberctl /usr/local/bin/
COPY deploy/passwd /etc/passwd
# The data directory, owned by the non-root user (scratch has no mkdir).
COPY --chown=10001:10001 deploy/.bin/data/ /var/lib/ember/
USER 10001
WORKDIR /var/lib/ember
ENV PATH=/usr/local/bin EMBER_LISTEN=0.0.0.0:7070 EMBER_GOSSIP_LISTEN=0.0.0.0:7946 EMBER_METRICS_LISTEN=0.0.0.0:9070 EMBER_DATA_DIR=/var/lib/ember
EXPOSE 7070 7946/udp 9070
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 CMD ["emberctl", "--node", "http://127.0.0.1:7070", "health"]
ENTRYPOINT ["ember-node"]
