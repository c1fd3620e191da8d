# The stand-in image of the ci stack's web and API tiers (e2e.yml builds it as gushen-standin:ci-1
# and imports it into K3s). What the tiers' pods need of an image: /bin/sh and cp (the web pod's
# init container seeds /app/.next/server, its preStop runs sh), UID 1000, and nothing written
# outside the mounted emptyDirs (read-only root file system).
FROM python:3.12-alpine3.20
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY standin.py /standin.py
RUN mkdir -p /app/.next/server /home/app && chown -R 1000:1000 /app /home/app
USER 1000:1000
EXPOSE 3000 8000
CMD ["python", "/standin.py"]
