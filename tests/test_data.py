import pytest

from nlp_course import data


def test_wikipedia_articles_are_clean_prose():
    arts = data.wikipedia_articles(limit=5, with_titles=True)
    assert len(arts) == 5
    title, text = arts[0]
    assert title == "Anarchism" and text.startswith("Anarchism is")
    assert "'''" not in text and "[[" not in text


def test_full_corpus_sizes():
    assert len(data.wikipedia_articles()) == 106
    assert len(data.lee_corpus()) == 300
    texts, labels = data.polarity_sentences()
    assert len(texts) == 200 and sorted(set(labels)) == [0, 1] and sum(labels) == 100
    posts, targets, names = data.newsgroup_posts()
    assert len(posts) == len(targets) == 200 and names == ["alt.atheism", "sci.space"]
    assert "Раскольников" in data.russian_text() or "молодой человек" in data.russian_text()


def test_dialogues_and_pairs():
    dialogues = data.chitchat_dialogues(limit=10)
    assert len(dialogues) == 10 and all(len(d) >= 2 for d in dialogues)
    assert dialogues == data.chitchat_dialogues(limit=10)  # deterministic
    pairs = data.chatterbot_pairs()
    assert len(pairs) > 2000 and all(q and a for q, a in pairs)
    assert any("Как" in q for q, _ in data.chatterbot_pairs("russian"))
    with pytest.raises(ValueError, match="language"):
        data.chatterbot_pairs("klingon")


def test_paths_and_versions():
    assert data.word_benchmark_path("questions-words").exists()
    assert data.navec_path().suffix == ".tar"
    with pytest.raises(ValueError, match="name"):
        data.word_benchmark_path("nope")
    versions = data.corpus_versions()
    assert versions["lee_corpus"].startswith("gensim==")
    src = data.python_sources(limit=3)
    assert len(src) == 3 and all("def " in s or "import" in s for s in src)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_limit_validation(bad):
    with pytest.raises(ValueError, match="limit"):
        data.chitchat_dialogues(limit=bad)


def test_wikipedia_articles_cache_hands_out_fresh_lists():
    first = data.wikipedia_articles(limit=5)
    first[0] = "a caller's edit"
    first.append("another")
    again = data.wikipedia_articles(limit=5)  # cached per process: the edits above must not leak
    assert len(again) == 5 and again[0].startswith("Anarchism is") and again is not first
    titled = data.wikipedia_articles(limit=5, with_titles=True)
    assert [text for _, text in titled] == again and all(isinstance(p, tuple) for p in titled)
    assert data.wikipedia_articles()[:5] == again  # a limit is a prefix of the whole corpus
