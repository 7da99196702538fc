"""The inbox blueprint object, apart so that every module can add its routes to it."""
from flask import Blueprint

# The inbox serves its own templates and static files (create_app has no /static folder).
bp = Blueprint("inbox", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
