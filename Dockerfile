# The esign service. Build: docker build -t esign . ; see docker-compose.yml for a run with PostgreSQL.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin esign

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/esign --create-home esign
COPY --from=build /src/target/release/esign /usr/local/bin/esign
USER esign
WORKDIR /var/lib/esign
ENV ESIGN_SERVER_BIND=0.0.0.0:8080 \
    ESIGN_SERVER_DATA_DIR=/var/lib/esign/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["esign"]
CMD ["serve"]
