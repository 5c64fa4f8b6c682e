# A python kernel image with the labels bai reads (runtime path, slot minimums). Where no
# registry is reachable, `src/stack/python-image.ts` builds the same image from Debian
# packages with mmdebstrap instead; pass that image as BASE to extend it.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
RUN mkdir -p /home/work
WORKDIR /home/work
LABEL ai.backend.runtime-path="/usr/local/bin/python3" \
      ai.backend.resource.min.cpu="0.1" \
      ai.backend.resource.min.mem="32m"
CMD ["python3"]
