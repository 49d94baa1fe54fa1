"""Every URL of the registry, in one place."""

from __future__ import annotations

from aiohttp import web

from shop.registry import views

# a subject may hold any character but "/" (the default pattern also refuses "{" and "}")
SUBJECT_NAME = "{subject:[^/]+}"
SUBJECT = "/subjects/" + SUBJECT_NAME
VERSION = SUBJECT + "/versions/{version}"
SCHEMA_ID = "/schemas/ids/{schema_id}"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", views.root)
    app.router.add_get("/subjects", views.list_subjects)
    app.router.add_post(SUBJECT, views.lookup)
    app.router.add_delete(SUBJECT, views.delete_subject)
    app.router.add_get(SUBJECT + "/versions", views.list_versions)
    app.router.add_post(SUBJECT + "/versions", views.register)
    app.router.add_get(VERSION, views.get_version)
    app.router.add_delete(VERSION, views.delete_version)
    app.router.add_get(VERSION + "/schema", views.get_version_schema)
    app.router.add_get(VERSION + "/referencedby", views.referenced_by)
    app.router.add_get("/schemas", views.list_schemas)
    app.router.add_get(SCHEMA_ID, views.get_schema)
    app.router.add_get(SCHEMA_ID + "/schema", views.get_schema_text)
    app.router.add_get(SCHEMA_ID + "/versions", views.schema_versions)
    app.router.add_get(SCHEMA_ID + "/subjects", views.schema_subjects)
    app.router.add_get("/schemas/guids/{guid}", views.get_schema_by_guid)
    app.router.add_get("/schemas/guids/{guid}/ids", views.schema_ids_of_guid)
    app.router.add_get("/schemas/types", views.schema_types)
    app.router.add_post("/compatibility" + SUBJECT + "/versions", views.check_compatibility)
    app.router.add_post("/compatibility" + VERSION, views.check_compatibility)
    # python-schema-registry-client asks for the global config as "config/"
    for path in ("/config", "/config/"):
        app.router.add_get(path, views.get_global_config)
        app.router.add_put(path, views.put_global_config)
        app.router.add_delete(path, views.delete_global_config)
    app.router.add_get("/config/" + SUBJECT_NAME, views.get_subject_config)
    app.router.add_put("/config/" + SUBJECT_NAME, views.put_subject_config)
    app.router.add_delete("/config/" + SUBJECT_NAME, views.delete_subject_config)
    app.router.add_get("/mode", views.mode)
