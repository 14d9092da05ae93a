# CXR on the CPU: `cxr serve` (browser UI + JSON API) in a small Debian 12 image.
#
#   docker build -t cxr .
#   docker run -d --init -p 127.0.0.1:8080:8080 -v cxr-store:/var/lib/cxr --name cxr cxr
#   docker logs cxr        # the first start prints the store's API token
#
# (podman: the same commands; add --format docker to `podman build` to keep the
# HEALTHCHECK.) The README's "Run in a container" has compose, upgrades and the GPU
# image (Dockerfile.gpu, which shares these steps through scripts/container-*).
#
# Stages: build (Debian 12 with scripts/install-deps --build-only; the cxr binary,
# `cmake --install`ed under /opt/cxr/install, and the shared libraries it links),
# test (the build tree plus the GoogleTest suite, for scripts/container-check; never
# shipped), and the runtime (the last stage: the base image, the installed files,
# those libraries and a non-root user). BASE_IMAGE lets a machine without Docker Hub
# build on a Debian 12 image it made itself (scripts/container-check does). The
# build context has no .git: pass --build-arg CXR_BUILD_COMMIT=$(git describe
# --always --dirty) to record the commit in the cards of models trained there.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /opt/cxr
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CCACHE_DIR=/var/cache/ccache
ARG CXR_BUILD_COMMIT=unknown
# The ccache mount keeps compiler results between image builds (not in the image).
RUN --mount=type=cache,target=/var/cache/ccache \
    CXR_BUILD_COMMIT=${CXR_BUILD_COMMIT} scripts/container-build -DCXR_CUDA=OFF

FROM build AS test
RUN scripts/install-deps --unit-tests && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/var/cache/ccache \
    cmake -S . -B build -DCXR_BUILD_TESTS=ON >/dev/null && ninja -C build
WORKDIR /opt/cxr/build

FROM ${BASE_IMAGE}
COPY --from=build /opt/cxr/install/ /usr/local/
COPY --from=build /opt/cxr/runtime-libs/ /usr/local/lib/cxr/
COPY scripts/container-setup scripts/container-healthcheck /usr/local/lib/cxr/bin/
RUN /usr/local/lib/cxr/bin/container-setup
USER cxr
WORKDIR /var/lib/cxr
VOLUME /var/lib/cxr
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["/usr/local/lib/cxr/bin/container-healthcheck"]
CMD ["cxr", "serve", "--host", "0.0.0.0", "--port", "8080", "--device", "cpu", "--store", "/var/lib/cxr"]
