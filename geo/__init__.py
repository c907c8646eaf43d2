"""Pure core of the Qingdao worker service map.

Data model, loading and validation, coordinate systems, spatial index, nearest,
coverage, siting and export. This package never imports flask, folium or jinja2.
"""

__version__ = "0.1.0"
