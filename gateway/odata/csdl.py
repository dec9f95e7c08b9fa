"""$metadata: CSDL XML for OData V4 (OASIS) and V3 (the form BC's /OData/ endpoint serves)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from gateway.odata import edm

EDMX4 = "http://docs.oasis-open.org/odata/ns/edmx"
EDM4 = "http://docs.oasis-open.org/odata/ns/edm"
EDMX3 = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM3 = "http://schemas.microsoft.com/ado/2009/11/edm"
META3 = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"

COMPANY_TYPE = "Company"


def _property(parent: ET.Element, prop: edm.Property, v3: bool) -> None:
    t = prop.type
    if v3 and t == edm.DATE:
        t = "Edm.DateTime"
    attrs = {"Name": prop.name, "Type": t}
    if not prop.nullable:
        attrs["Nullable"] = "false"
    if prop.max_length and prop.type == edm.STRING:
        attrs["MaxLength"] = str(prop.max_length)
    if prop.type == edm.DECIMAL and not v3:
        attrs["Scale"] = "variable"  # lower case in the OASIS schema
    ET.SubElement(parent, "Property", attrs)


def _entity_type(schema: ET.Element, entity_set: edm.EntitySet, v3: bool) -> None:
    et = ET.SubElement(schema, "EntityType", {"Name": entity_set.type_name})
    key = ET.SubElement(et, "Key")
    for k in entity_set.key:
        ET.SubElement(key, "PropertyRef", {"Name": k})
    for prop in entity_set.properties:
        _property(et, prop, v3)
    return None


def metadata_v4(registry: edm.Registry) -> bytes:
    ns = registry.namespace
    ET.register_namespace("edmx", EDMX4)
    root = ET.Element(f"{{{EDMX4}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{EDMX4}}}DataServices")
    schema = ET.SubElement(services, "Schema", {"Namespace": ns, "xmlns": EDM4})
    company_set = None
    for s in registry:
        _entity_type(schema, s, v3=False)
        if not s.per_company:
            company_set = s
    if company_set is not None:
        # BC's shape: every per-company set is also reachable as Company('X')/Set.
        company_type = schema.find(f"EntityType[@Name='{company_set.type_name}']")
        assert company_type is not None
        for s in registry:
            if s.per_company:
                ET.SubElement(
                    company_type,
                    "NavigationProperty",
                    {
                        "Name": s.name,
                        "Type": f"Collection({ns}.{s.type_name})",
                        "ContainsTarget": "true",
                    },
                )
    container = ET.SubElement(schema, "EntityContainer", {"Name": ns})
    for s in registry:
        ET.SubElement(container, "EntitySet", {"Name": s.name, "EntityType": f"{ns}.{s.type_name}"})
    return _serialise(root)


def metadata_v3(registry: edm.Registry) -> bytes:
    ns = registry.namespace
    ET.register_namespace("edmx", EDMX3)
    ET.register_namespace("m", META3)
    root = ET.Element(f"{{{EDMX3}}}Edmx", {"Version": "1.0"})
    services = ET.SubElement(
        root,
        f"{{{EDMX3}}}DataServices",
        {f"{{{META3}}}DataServiceVersion": "3.0", f"{{{META3}}}MaxDataServiceVersion": "3.0"},
    )
    schema = ET.SubElement(services, "Schema", {"Namespace": ns, "xmlns": EDM3})
    for s in registry:
        _entity_type(schema, s, v3=True)
    container = ET.SubElement(schema, "EntityContainer", {"Name": ns, f"{{{META3}}}IsDefaultEntityContainer": "true"})
    for s in registry:
        ET.SubElement(container, "EntitySet", {"Name": s.name, "EntityType": f"{ns}.{s.type_name}"})
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
