# The GPU worker: ERN built against upstream LibTorch with CUDA (Debian packages only LibTorch
# for CPU). The CUDA runtime, cuBLAS and cuDNN come inside the LibTorch archive; the driver comes
# from the host through the NVIDIA container toolkit (docker run --gpus all, or the nvidia.com/gpu
# resource on Kubernetes). Both stages stay on Debian bookworm rather than NVIDIA's Ubuntu-based
# CUDA images: every other library is the Debian package scripts/setup.sh installs everywhere else
# (Ubuntu has other versions and no LibTorch package), and the archive already carries the CUDA
# user-space libraries a CUDA base image would add.
#   docker build -f docker/worker-cuda.Dockerfile -t ern/worker-cuda .
#
# The archive is fetched at image build time (the one place outside Debian's archive), pinned by
# URL and SHA-256; override both for another CUDA version.
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.1.2%2Bcu121.zip
ARG LIBTORCH_SHA256=""

FROM debian:bookworm AS build
ARG LIBTORCH_URL
ARG LIBTORCH_SHA256
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh && apt-get install -y -q --no-install-recommends curl unzip \
    && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL -o /tmp/libtorch.zip "$LIBTORCH_URL" \
    && if [ -n "$LIBTORCH_SHA256" ]; then echo "$LIBTORCH_SHA256  /tmp/libtorch.zip" | sha256sum -c -; fi \
    && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DCMAKE_PREFIX_PATH=/opt/libtorch \
    && cmake --build build --target ern-worker

FROM debian:bookworm-slim
COPY scripts/setup.sh /tmp/setup.sh
RUN bash /tmp/setup.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
    && useradd --system --uid 10001 --home-dir /var/lib/ern --create-home ern
# What the NVIDIA container toolkit looks for to mount the host's driver.
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=build /opt/libtorch/lib/ /opt/libtorch/lib/
COPY --from=build /src/build/bin/ern-worker /opt/ern/bin/ern-worker
ENV LD_LIBRARY_PATH=/opt/libtorch/lib PATH=/opt/ern/bin:$PATH
WORKDIR /opt/ern
USER ern
EXPOSE 9093
ENTRYPOINT ["ern-worker"]
CMD ["--coordinator", "coordinator:50051", "--devicefarm", "devicefarm:50052", \
     "--device", "cuda:0", "--data", "/var/lib/ern/worker", "--metrics-listen", "0.0.0.0:9093"]
