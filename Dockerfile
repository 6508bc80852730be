# One image for every groundcode process; the command picks the role (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY groundcode ./groundcode
COPY services ./services
COPY prompts ./prompts
RUN pip install --no-cache-dir .
ENV GROUNDCODE_DATA_DIR=/data
ENTRYPOINT ["groundcode"]
