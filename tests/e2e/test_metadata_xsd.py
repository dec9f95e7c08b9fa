"""$metadata: the V4 document validates against the OASIS CSDL XSDs and says what the registry says;
the V3 document is well-formed CSDL in Microsoft's namespaces, as BC's /OData/ endpoint serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from gateway.app import GATEWAY
from gateway.odata.csdl import EDM3, EDM4, EDMX3, EDMX4, META3
from tests.support.db_fixtures import skip_or_fail

XSD_DIR = Path(__file__).resolve().parents[2] / ".cache" / "xsd"


@pytest.fixture(scope="module")
def csdl_schema() -> Any:
    edmx, edm = XSD_DIR / "edmx.xsd", XSD_DIR / "edm.xsd"
    if not (edmx.is_file() and edm.is_file()):
        skip_or_fail(f"the OASIS CSDL XSDs are not in {XSD_DIR}: run 'make xsd'")
    import xmlschema

    # edmx.xsd imports edm.xsd by a relative name: say where it is.
    return xmlschema.XMLSchema(str(edmx), locations=[(EDM4, str(edm))])


async def test_v4_metadata_is_valid_csdl(api: Any, gateway_server: Any, csdl_schema: Any) -> None:
    status, headers, xml = await api.get("/ODataV4/$metadata")
    assert status == 200
    assert headers["Content-Type"].startswith("application/xml")
    errors = [str(e) for e in csdl_schema.iter_errors(xml)]
    assert errors == []

    root = ET.fromstring(xml)  # noqa: S314 - our own server's answer
    assert root.tag == f"{{{EDMX4}}}Edmx" and root.get("Version") == "4.0"
    (schema,) = root.iter(f"{{{EDM4}}}Schema")
    namespace = schema.get("Namespace")
    types = {t.get("Name"): t for t in schema.iter(f"{{{EDM4}}}EntityType")}
    container = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{{{EDM4}}}EntitySet")}
    registry = gateway_server.app[GATEWAY].registry
    assert set(container) == {s.name for s in registry}
    for entity_set in registry:
        assert container[entity_set.name] == f"{namespace}.{entity_set.type_name}"
        et = types[entity_set.type_name]
        keys = [r.get("Name") for r in et.iter(f"{{{EDM4}}}PropertyRef")]
        assert tuple(keys) == entity_set.key
        props = {p.get("Name"): p for p in et.findall(f"{{{EDM4}}}Property")}
        assert list(props) == [p.name for p in entity_set.properties]
        for p in entity_set.properties:
            assert props[p.name].get("Type") == p.type
            assert props[p.name].get("Nullable", "true") == ("true" if p.nullable else "false")
            if p.max_length:
                assert props[p.name].get("MaxLength") == str(p.max_length)
    # BC's shape: each per-company set is contained in Company, as Company('X')/Set.
    company = next(s for s in registry if not s.per_company)
    navigation = {n.get("Name") for n in types[company.type_name].iter(f"{{{EDM4}}}NavigationProperty")}
    assert navigation == {s.name for s in registry if s.per_company}

    # The check is not vacuous: the same document, broken, does not validate.
    broken = xml.replace('Scale="variable"', 'Scale="Variable"', 1)
    assert broken != xml
    assert not csdl_schema.is_valid(broken)
    assert not csdl_schema.is_valid(xml.replace("<Key>", "<Keys>", 1).replace("</Key>", "</Keys>", 1))


async def test_v3_metadata_is_well_formed_and_both_are_negotiated(api: Any, gateway_server: Any) -> None:
    status, headers, xml = await api.get("/OData/$metadata")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    assert headers["DataServiceVersion"] == "3.0"
    root = ET.fromstring(xml)  # noqa: S314 - our own server's answer
    assert root.tag == f"{{{EDMX3}}}Edmx" and root.get("Version") == "1.0"
    services = root.find(f"{{{EDMX3}}}DataServices")
    assert services is not None
    assert services.get(f"{{{META3}}}DataServiceVersion") == "3.0"
    (schema,) = services.findall(f"{{{EDM3}}}Schema")
    container = schema.find(f"{{{EDM3}}}EntityContainer")
    assert container is not None and container.get(f"{{{META3}}}IsDefaultEntityContainer") == "true"
    registry = gateway_server.app[GATEWAY].registry
    assert {s.get("Name") for s in container.findall(f"{{{EDM3}}}EntitySet")} == {s.name for s in registry}
    types = {p.get("Type") for p in schema.iter(f"{{{EDM3}}}Property")}
    # V3 CSDL knows no Edm.Date, and OASIS-only facets have no place here.
    assert "Edm.Date" not in types and types <= {
        "Edm.String",
        "Edm.Guid",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Decimal",
        "Edm.Boolean",
        "Edm.DateTime",
        "Edm.DateTimeOffset",
    }
    assert 'Scale="variable"' not in xml and EDM4 not in xml

    # Both documents are XML to whoever accepts XML, by header or $format.
    for root in ("/ODataV4", "/OData"):
        for headers, query in (({"Accept": "application/xml"}, ""), ({}, "?$format=xml"), ({"Accept": "*/*"}, "")):
            status, h, _xml = await api.get(f"{root}/$metadata{query}", headers=headers)
            assert status == 200 and h["Content-Type"].startswith("application/xml"), (root, headers, query)
