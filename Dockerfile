# The shop service image used by compose.yaml (it talks to the Kafka and Schema Registry it is given).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home shop
USER shop
EXPOSE 8000 8001
CMD ["python", "-m", "shop"]
