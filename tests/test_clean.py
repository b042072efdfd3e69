"""Site furniture is removed and hard-wrapped lines are joined, so passages are prose."""

from index.ingest.clean import clean_text


def test_language_menu_and_navigation_are_dropped():
    raw = "Go back to the Europarl portal\n\nChoisissez la langue de votre document :\n\n  • bg - български\n" \
          "  • en - English (Selected)\n  • fr - français\nParliamentary questions\nPDF 5kWORD 19k\n\n" \
          "The EU follows closely the situation of human rights in Kazakhstan.\n"
    assert clean_text(raw) == "Parliamentary questions\n\nThe EU follows closely the situation of human rights in Kazakhstan."


def test_related_news_subscription_and_contact_tails_are_cut():
    body = "\n\n".join(f"Paragraph {i} says something about human rights in Kazakhstan at length." for i in range(6))
    raw = body + "\n\nKazakhstan: the latest news\n\nMore news\nSome other headline\n\nSubscribe to our updates\n"
    assert clean_text(raw) == body
    contact = body + "\n\nContact\n\nOffice of delegation Chair\n\nTel: 0032 2 28 45733\n\nEmail: someone@example.eu\n"
    assert clean_text(contact) == body


def test_hard_wrapped_pdf_lines_become_one_paragraph_and_items_stay_apart():
    raw = ("N. whereas according to reports, more than 15 political prisoners are being held in \n"
           "Kazakhstan, and the number of politically motivated persecutions is growing,\n"
           " O. whereas on 10 May 2018 police resorted to use excessive force and detained more \n"
           "than 150 peaceful protesters;\n")
    assert clean_text(raw).split("\n\n") == [
        "N. whereas according to reports, more than 15 political prisoners are being held in Kazakhstan, "
        "and the number of politically motivated persecutions is growing,",
        "O. whereas on 10 May 2018 police resorted to use excessive force and detained more than 150 peaceful protesters;",
    ]


def test_sentence_broken_by_a_stray_blank_line_is_rejoined():
    raw = "Civil society activists **Maks Bokayev**\n\nand **Talgat Ayan** received prison terms."
    assert clean_text(raw) == "Civil society activists Maks Bokayev and Talgat Ayan received prison terms."


def test_repeated_headline_is_kept_once_and_link_lists_dropped():
    raw = "Key concerns\nKey concerns\n\nThe briefing lists six issues of concern for the dialogue.\n\n" \
          "- [The case of Muratkhan Tokmadi](#)\n- [Another report](https://example.org)\n"
    assert clean_text(raw) == "Key concerns\n\nThe briefing lists six issues of concern for the dialogue."
