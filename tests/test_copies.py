"""The checks that compare a copy with its source sentence (``copies``): a number, a name or a word put where the
source has another, a clause said of another subject, a qualifier or a word left out."""

from __future__ import annotations

from ragd.index.answer import answering, copies, support


def test_a_word_or_clause_left_out_of_a_text_copied_under_its_header_is_a_misquote():
    passage = ("Bounding the time by a function often yields classes that depend on the model [vague]. "
               "Its lamp burned whale oil, and lit the bay, until 1901.")
    quote = "theory.txt (lines 3-4)\nBounding the time by a function yields classes that depend on the model."
    assert copies.left_out(quote, passage) == ["often"]
    assert "the quote without “often”" in support.header_misuse(quote, passage[:90], passage, ["theory.txt"])
    assert support.judge(quote, passage[:90], 0.9, passage=passage, labels=["theory.txt"]).verdict == "partly"
    assert copies.left_out("Its lamp burned whale oil lit the bay until 1901.", passage) == []  # "and" only
    assert copies.left_out("depend on the model. Its lamp burned whale o", passage) == []  # an aside, a cut end
    ja = "石油自体は珍しくないが、油田は少なく、石油産地は地理的に偏った。20世紀後半に、石油は戦略資源となった。"
    assert copies.left_out("石油自体は珍しくないが、油田は少なく、石油は戦略資源となった。", ja) == [
        "石油産地は地理的に偏った 20世紀後半に"]


def test_a_japanese_name_miscopied_by_one_character_is_caught():
    text = "北部九州災害情報パートナーシップを締結した。都道府県委員会が決める。1932年の三・一五事件で検挙された。"
    assert copies.garbled_words("災害情報パードナーシップを締結した。", text) == ["パードナーシップ"]  # changed
    assert copies.garbled_words("都道県委員会が決める。", text) == ["都道県委員会"]  # dropped
    assert copies.garbled_words("三・一六事件で検挙された。", text) == ["三・一六事件"]
    assert copies.garbled_words("美術館が決める。", "図書館が決める。") == []  # another word: a paraphrase
    assert copies.garbled_words("図書館は1921年開館。", "図書館は1921年に開館した。") == []  # a counter, a word
    assert "都道県委員会" in support.missing_details("都道県委員会が決める。", text)


def test_a_clause_copied_with_another_subject_is_caught():
    snow = "北陸地方では冬に雪が多く降り、交通が止まることもある。"
    assert copies.said_of_another("九州地方では冬に雪が多く降り、交通が止まることもある。", snow) == ["九州"]
    assert support.judge("九州地方では冬に雪が多く降り、交通が止まることもある。", snow, 0.9,
                         passage=snow).verdict == "partly"
    assert copies.said_of_another("北陸地方では冬に雪が多く降り、交通が止まることもある。", snow) == []  # a copy
    assert copies.said_of_another("冬に雪が多く降り、交通が止まることもある。", snow) == []  # no subject, no other
    assert copies.said_of_another("スジャータの愛称はスナッピー。", "ラジオカーの愛称はスナッピー。") == ["スジャータ"]
    rainy = "梅雨の時期は、年によって大きく変わることがある。"
    assert copies.said_of_another("梅雨の期間は、年によって大きく変わることがある。", rainy) == []  # a rewording
    drought = "The 2012 drought had three epicenters where vegetation died off."
    assert copies.said_of_another("The Congo basin had three epicenters where vegetation died off.", drought) == [
        "Congo"]
    poem = "The Masque of Anarchy is perhaps the first modern statement of the principle of nonviolent protest."
    assert copies.said_of_another("It is a statement of the principle of nonviolent protest.", poem) == []


def test_a_number_or_a_name_put_where_the_source_has_another_is_caught():
    dust = ("An average 182 million tons of dust are windblown out of the Sahara each year; 27.7 million tons fall "
            "over the Amazon basin, 43 million tons of dust are windblown and fall on the Caribbean Sea.")
    assert copies.number_of_another("43 million tons of dust are windblown out of the Sahara each year.", dust) == [
        "43"]
    assert copies.number_of_another("182 million tons of dust are windblown out of the Sahara each year.",
                                      dust) == []
    assert copies.number_of_another("43 million tons of dust are windblown and fall on the Caribbean Sea.",
                                      dust) == []
    assert "43" in support.missing_details("43 million tons of dust are windblown out of the Sahara each year.", dust)
    congress = ("更に1958年の第7回党大会では宮本顕治が書記長となり、"
                "2010年（平成22年）の第25回党大会時は約40万6千人の党員がいた。")
    assert copies.number_of_another("1955年の第7回党大会では宮本顕治が書記長となった。", congress) == ["1955"]
    assert copies.number_of_another("2012年（平成24年）の第25回党大会時は約40万6千人。", congress) == ["2012", "24"]
    assert copies.number_of_another("1958年の第7回党大会では宮本顕治が書記長となった。", congress) == []
    assert copies.number_of_another("第25回党大会時は約40万6千人の党員がいた。", congress) == []  # 40万6千 is one
    assert copies.number_of_another("１９５５年の第7回党大会では宮本顕治が書記長となった。", congress) == ["1955"]
    assert copies.number_of_another("１９５８年の第7回党大会では宮本顕治が書記長となった。", congress) == []
    hall = "About 1,200 people attended the opening of the hall, and 1,200 more came later."
    assert copies.number_of_another("About 1,600 people attended the opening of the hall; 1,600 people attended.",
                                      hall) == ["1600"]  # once, as the other checks write it
    assert copies.number_of_another("By 1990 it was the largest city.", "By 1980 it was the second city.") == []
    eec = ("Of the nine members of the EEC, the Netherlands faced a complete embargo, the UK and France received "
           "almost uninterrupted supplies.")
    question = "Which country faced a complete embargo in the EEC?"
    assert answering.off_the_question("The country that faced a complete embargo in the EEC was the UK.", eec,
                                      question, eec) == ["UK"]
    assert answering.off_the_question("The country that faced a complete embargo in the EEC was the Netherlands.",
                                      eec, question, eec) == []
    theatres = ("Citing limited profitability, ABC Great States, the Central West division of ABC Theatres, was sold "
                "to Henry Plitt in 1974.")
    question = "Who was ABC Great States sold to in 1974?"
    assert answering.off_the_question("The answer is: Henry Plitt.", theatres, question, theatres) == []
    assert sorted(answering.off_the_question("The answer is: Walt Disney.", theatres, question, theatres)) == [
        "Disney", "Walt"]
    buyer = "In 1974 ABC Paramount theatres went to the buyer Plitt."
    assert answering.off_the_question("The answer is: Plitt.", buyer, "Who was the buyer of the Paramount theatres?",
                                      buyer) == []
    later = "Later faced with a complete embargo in the EEC, the Netherlands rationed fuel."  # "Later" is no subject
    assert answering.off_the_question("The answer is: the Netherlands.", later, "Which country faced a complete "
                                      "embargo in the EEC?", later) == []


def test_a_japanese_word_put_in_place_of_the_sources_inside_a_copy_is_caught():
    source = "以下は、マーラー自身による結論である。"
    assert copies.replaced_in_copy("以下は、マーラーは、ポリフォニーによる結論である。", source) == ["ポリフォニー"]
    assert copies.replaced_in_copy("以下は、マーラー自身による結論である。", source) == []
    rewording = ("梅雨の期間は地域によって異なる。", "梅雨の時期は地域によって異なる。")  # 期 is shared
    assert copies.replaced_in_copy(*rewording) == []
    assert copies.replaced_in_copy("The conclusion is Mahler's own.", "The conclusion is polyphony's.") == []
    assert support.judge("以下は、マーラーは、ポリフォニーによる結論である。", source, 0.9,
                         passage=f"{source}ポリフォニーの技法を用いた。").verdict == "partly"


def test_a_copy_that_leaves_out_its_sources_qualifier_claims_more():
    source = "Contractors are typically required to verify and have existing utility lines marked."
    assert copies.dropped_qualifiers("Contractors are required to verify utility lines.", source) == ["typically"]
    assert copies.dropped_qualifiers("Contractors are typically required to verify utility lines.", source) == []
    assert copies.dropped_qualifiers("Contractors must check the lines.", source) == []  # not a copy around it
    assert copies.dropped_qualifiers("The treaty was signed in 2010.", "The treaty was signed in May 2010.") == []
    assert copies.dropped_qualifiers("Protests serve a purpose.", "Protests may serve a purpose.") == ["may"]
    plants = "To date, an estimated 438,000 species of plants of economic interest have been registered."
    assert copies.dropped_qualifiers("The number of plant species of economic interest is 438,000.", plants) == [
        "estimated"]
    assert copies.dropped_qualifiers("About 438,000 species of plants have been registered.", plants) == []
    oil = "The price of oil had risen from US$3 per barrel to nearly $12 globally."
    assert copies.dropped_qualifiers("The price of oil was approximately $12.", oil) == []  # another qualifier
    assert copies.dropped_qualifiers("The price of oil rose to $12 a barrel.", oil) == ["nearly"]
    assert copies.dropped_qualifiers("The price rose to $120.", oil) == []  # another number
    members = "2019年9月現在の党員数は約27万人である。"
    assert copies.dropped_qualifiers("党員数は27万人である。", members) == ["約"]
    assert copies.dropped_qualifiers("党員数はおよそ27万人である。", members) == []
    for copy, source in (("About 3 million people live in the 3 largest cities.",) * 2,  # qualified where it counts
                         ("In 5 years the firm grew.", "About 5 percent left. In 5 years the firm grew."),  # bare too
                         ("The novel 1984 is famous.", "It is a book about 1984."),  # a year, not a figure
                         ("党員数は27万人ほどである。", members), ("条約の2条による。", "条約2条による。")):
        assert copies.dropped_qualifiers(copy, source) == [], copy
    assert support.judge("Contractors are required to verify and have existing utility lines marked.", source,
                         1.0).verdict == "partly"


def test_a_word_swapped_for_its_opposite_in_a_copy_is_caught():
    worst = "Since inputs differ, the worst-case time complexity T(n) is defined to be the maximum time taken."
    best = "The best-case time complexity T(n) is defined to be the maximum time taken."
    assert copies.swapped_opposites(best, worst) == ["best"]
    assert support.judge(best, worst, 0.9, passage=worst).verdict == "partly"
    assert copies.swapped_opposites("The worst-case time complexity is the maximum time.", worst) == []  # a copy
    assert copies.swapped_opposites("The inner ring forms first.", "The outer ring forms first.") == ["inner"]
    assert copies.swapped_opposites("Prices rose before and after the war.", "Prices rose before the war.") == []
    assert copies.swapped_opposites("The old engine uses more fuel than the new one.",  # the converse
                                    "The new engine uses less fuel than the old one.") == []
    assert copies.swapped_opposites("その日に梅雨明けしたとみられる。", "その日に梅雨入りしたとみられる。") == ["明け"]
    assert copies.swapped_opposites("人口が最小の都市である。", "人口が最大の都市である。") == ["最小"]
    assert copies.swapped_opposites("人口が最大の都市である。", "人口が最大の都市である。") == []


def test_one_end_of_a_range_given_as_the_number_is_caught():
    budget = "The films were produced on an average budget of $400,000–$450,000."
    assert copies.dropped_qualifiers("The average budget was $450,000.", budget) == ["range $400,000–$450,000"]
    assert copies.dropped_qualifiers("The budget was $400,000–$450,000.", budget) == []  # the range kept
    assert copies.dropped_qualifiers("The war began in 1939.", "The war (1939–1945) was long.") == []  # years
    assert copies.dropped_qualifiers("It rose to 12 dollars.", "It rose from 3 to 12 dollars.") == []  # a change
    assert copies.dropped_qualifiers("炭素数20の炭化水素。", "炭素数10〜20の炭化水素。") == ["range 10〜20"]
    assert copies.dropped_qualifiers("It first flew on 12 March 2014.", "It first flew on 2014-03-12.") == []  # a date
    assert copies.dropped_qualifiers("Flight 12 crashed.", "Flight AB-3-12 crashed.") == []  # an ID
    assert copies.dropped_qualifiers("It cost at least $400,000.", budget) == []  # a qualifier keeps it a range
    assert copies.dropped_qualifiers("10人以上が来た。", "10～15人が来た。") == []


def test_two_items_of_a_japanese_list_joined_as_one_of_the_other_are_caught():
    majors = "スタンダード石油が前身となって、今日のエクソンモービル、シェブロンなどの旧7大メジャーができた。"
    joined = "スタンダード石油が前身となって、今日のエクソンモービルのシェブロンなどができた。"
    assert copies.list_made_possessive(joined, majors) == ["エクソンモービルのシェブロン"]
    assert support.judge(joined, majors, 0.9, passage=majors).verdict == "partly"
    assert copies.list_made_possessive("今日のエクソンモービル、シェブロンなどができた。", majors) == []
    cooperated = "大学は政府と協力して研究した。"  # と: "with", not a list
    assert copies.list_made_possessive("大学は政府の協力を得て研究した。", cooperated) == []
    plants = "会社は東工場、西工場、南工場を作る。"
    assert copies.list_made_possessive("会社は西工場の南工場を作る。", plants) == ["西工場の南工場"]  # not A、B only


def test_a_colour_or_month_put_for_the_source_sentences_own_is_caught():
    logo = "ID sequences had the logo appear in a gold CGI design on a blue background."
    assert copies.swapped_opposites("The logo was in a gold-on-black color scheme.", logo) == ["black"]
    assert copies.swapped_opposites("The logo was gold on a blue background.", logo) == []
    assert copies.swapped_opposites("It was launched in July.", "It was launched in June.") == ["july"]
    assert copies.swapped_opposites("It may be launched in June.", "It was launched in June.") == []  # a modal
