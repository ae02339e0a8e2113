"""pyHanko's synchronous API starts its own event loop: signing and validating must still work when the calling
thread already runs one (an async view; a test worker where Playwright's sync API is alive)."""

from __future__ import annotations

import asyncio
import io

from reportlab.pdfgen import canvas

from audits.reports.signing import sign_pdf, validate_pdf


def _one_page_pdf() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Assay: signed inside an event loop")
    page.save()
    return out.getvalue()


def test_a_report_is_signed_and_validated_inside_a_running_event_loop() -> None:
    async def inside_a_loop() -> tuple:
        asyncio.get_running_loop()  # there is one: pyHanko's own asyncio.run would refuse to start here
        signed = sign_pdf(_one_page_pdf(), reason="test")
        return signed, validate_pdf(signed.pdf)

    signed, result = asyncio.run(inside_a_loop())
    assert signed.pdf.startswith(b"%PDF")
    assert result.valid, result
    tampered = bytearray(signed.pdf)
    tampered[len(tampered) // 3] ^= 0x01
    assert not validate_pdf(bytes(tampered)).valid
