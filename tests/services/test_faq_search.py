"""FAQ retrieval: residents' own words (typos included) find the right answer, and short
replies that name no topic ("ok", "ya", "pak", a first name) find none."""

from __future__ import annotations

import pytest

from bot.dialogs.faq import ANSWER_SCORE
from bot.dialogs.routing import FAQ_ANSWER_SCORE
from bot.services.faq import FaqBook
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def book() -> FaqBook:
    return FaqBook(PROJECT_ROOT / "locales", "id")


@pytest.mark.parametrize(
    ("locale", "typed", "entry"),
    [
        ("id", "ibu saya lansia, bisa dapat pkh?", "lansia_disabilitas"),
        ("id", "apa itu pkh", "pkh"),
        ("id", "pkh", "pkh"),
        ("id", "program keluarga harapan itu apa", "pkh"),
        ("id", "ok makasih, kalau pkh itu apa ya", "pkh"),
        ("id", "bpnt itu apa ya", "bpnt"),
        ("id", "sembako", "bpnt"),
        ("id", "sembakoo", "bpnt"),
        ("id", "blt dana desa kapan", "blt"),
        ("id", "apa itu blt", "blt"),
        ("id", "kis saya tidak aktif", "pbi_jk"),
        ("id", "bpjs saya mati", "pbi_jk"),
        ("id", "bpjs gratis gimana caranya", "pbi_jk"),
        ("id", "anak saya sekolah dapat pip?", "pip"),
        ("id", "kartu indonesia pintar", "pip"),
        ("id", "gimana cara daftar bansos", "daftar"),
        ("id", "halo kak saya mau daftar bansos gimana", "daftar"),
        ("id", "bagaimana caranya mendaftar bansos", "daftar"),
        ("id", "apa itu dtsen", "dtsen"),
        ("id", "beda dtks sama dtsen", "dtsen"),
        ("id", "saya miskin tapi gak dapat bansos", "tidak_dapat"),
        ("id", "gak dapet bansos padahal miskin", "tidak_dapat"),
        ("id", "cara cek bansos", "cek_status"),
        ("id", "cekbansos", "cek_status"),
        ("id", "bagaimana cek nama penerima bansos", "cek_status"),
        ("id", "bansos saya belum cair", "belum_cair"),
        ("id", "bansos sya blm cair", "belum_cair"),
        ("id", "saldo kks kosong", "belum_cair"),
        ("id", "nama saya dicoret", "berhenti"),
        ("id", "kenapa bansos sy dicoret", "berhenti"),
        ("id", "saya di coret dari pkh", "berhenti"),
        ("id", "kapan jadwal pencairan", "jadwal"),
        ("id", "bu mau tanya jadwal pencairan", "jadwal"),
        ("id", "jadwl pencairan bansos", "jadwal"),
        ("id", "kapan jadwal pencarian bansos", "jadwal"),
        ("id", "kapan bansos cair", "jadwal"),
        ("id", "pak, kks saya hilang", "kks"),
        ("id", "kartu kks terblokr", "kks"),
        ("id", "lupa pin kks", "kks"),
        ("id", "tetangga saya orang kaya dapat bansos", "sanggah"),
        ("id", "bansos saya dipotong ketua rt", "pungli"),
        ("id", "ketua rt minta uang rokok", "pungli"),
        ("id", "apakah daftar bansos harus bayar", "biaya_daftar"),
        ("id", "ada yang minta kode otp", "pin_otp"),
        ("id", "ada pelatihan menjahit?", "pelatihan"),
        ("id", "pelatiahn gratis", "pelatihan"),
        ("id", "pelatihan mnjahit", "pelatihan"),
        ("id", "orang tua saya cacat bisa dapat bantuan?", "lansia_disabilitas"),
        ("id", "pkh lansi", "lansia_disabilitas"),
        ("id", "disabiltas", "lansia_disabilitas"),
        ("id", "saya pindah alamat", "pindah_data"),
        ("id", "data saya salah", "pindah_data"),
        ("id", "apakah nik saya aman disimpan", "privasi"),
        ("id", "cara hapus nik saya", "hapus_data"),
        ("en", "what is pkh", "pkh"),
        ("en", "What is PKH and who can get it?", "pkh"),
        ("en", "hi, what is bpnt", "bpnt"),
        ("en", "food aid", "bpnt"),
        ("en", "my bpjs is inactive", "pbi_jk"),
        ("en", "scholarship for my kid", "pip"),
        ("en", "ok so how do i register", "daftar"),
        ("en", "what is dtsen", "dtsen"),
        ("en", "i am poor but get no aid", "tidak_dapat"),
        ("en", "how to check my aid status", "cek_status"),
        ("en", "my aid has not been paid", "belum_cair"),
        ("en", "my name was removed from the list", "berhenti"),
        ("en", "thanks, when is the payout", "jadwal"),
        ("en", "whn is the aid distribtion schedule", "jadwal"),
        ("en", "i forgot my kks pin", "kks"),
        ("en", "my rich neighbour gets aid", "sanggah"),
        ("en", "someone asked me for money", "pungli"),
        ("en", "do i have to pay to register", "biaya_daftar"),
        ("en", "someone asked for my otp code", "pin_otp"),
        ("en", "trainng for sewing", "pelatihan"),
        ("en", "can elderly get pkh", "lansia_disabilitas"),
        ("en", "i moved house", "pindah_data"),
        ("en", "is my data safe", "privasi"),
        ("en", "delete my nik", "hapus_data"),
    ],
)
def test_residents_questions_find_their_answer(
    book: FaqBook, locale: str, typed: str, entry: str
) -> None:
    hits = book.search(locale, typed, limit=1)
    assert hits, typed
    assert hits[0].entry.id == entry, (typed, hits[0])
    assert hits[0].score >= FAQ_ANSWER_SCORE, (typed, hits[0])


# Short replies, greetings, forms of address and first names: no topic, so no answer and no
# suggestion ("ok" once got "why has my aid stopped?", "tidak" the "no aid" answer).
CONTENT_FREE = [
    "ok",
    "oke",
    "ya",
    "iya",
    "tidak",
    "gak",
    "nggak",
    "belum",
    "sudah",
    "pak",
    "bu",
    "ok pak",
    "ya bu",
    "iya pak terima kasih",
    "halo kak",
    "siap",
    "baik",
    "mantap",
    "hmm",
    "Ani",
    "Budi",
    "Pak Budi",
    "y",
    "k",
    "okay",
    "yes",
    "no",
    "nope",
    "sure",
    "thanks",
    "hi",
]


@pytest.mark.parametrize("locale", ["id", "en"])
@pytest.mark.parametrize("typed", CONTENT_FREE)
def test_content_free_replies_find_nothing(book: FaqBook, locale: str, typed: str) -> None:
    assert book.search(locale, typed) == []


@pytest.mark.parametrize("locale", ["id", "en"])
@pytest.mark.parametrize(
    "typed",
    [
        "Tambahan: kejadiannya hari Senin pagi di balai desa.",
        "Siti Aminah",
        "Dewi Lestari",
        "Rahmat",
        "Sukamaju",
        "anak saya",
        "tetangga",
    ],
)
def test_unrelated_words_are_not_answered(book: FaqBook, locale: str, typed: str) -> None:
    hits = book.search(locale, typed, limit=1)
    assert not hits or hits[0].score < ANSWER_SCORE, (typed, hits[0])


def test_stop_words_come_from_every_locale_file(book: FaqBook) -> None:
    assert {"ok", "ya", "tidak", "pak", "bu"} <= book.stop_words
    assert {"yes", "no", "thanks"} <= book.stop_words
    # Residents mix languages: an Indonesian "ya" finds nothing in the English FAQ either.
    assert book.search("en", "ya") == []
    assert book.search("id", "no") == []
